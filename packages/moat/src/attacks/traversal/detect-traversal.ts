/**
 * Path traversal and local file inclusion by structure. The value is read as a path (both slash
 * kinds): each `..` segment climbs one level, each name descends one; a path that climbs above where it
 * started escapes its root. A relative link climbing one level (`../img/a.png`) is everyday Markdown,
 * so one level is an attack only with evidence of intent: a sensitive target, obfuscated dots
 * (`....//`, encoded, overlong), backslashes or a NUL. `docs/../readme.txt` never leaves its folder and
 * passes. Separately: a value that *is* a sensitive system path, or uses an inclusion wrapper (`php://`).
 */
import { F_BACKSLASH, F_COLON, F_DOTDOT, F_SLASH } from '../features.js';
import type { Finding } from '../types.js';
import { INCLUSION_SCHEMES, SENSITIVE_PATHS } from '../words/paths.js';
import { addWork } from '../work-counter.js';

export const TRAVERSAL_FEATURES = F_DOTDOT | F_SLASH | F_BACKSLASH | F_COLON;

/**
 * `raw`: when `s` is a decoded view, the value as it arrived. A climbing word that is not in it verbatim
 * needed decoding to show its dots or slashes — an evasion. Judged per word, not per value: a long
 * comment holding `&amp;` somewhere and a plain `../images/logo.png` elsewhere is no evasion.
 */
export function detectTraversal(s: string, raw: string | null): Finding | null {
  // Without `..` nothing climbs; skip the segment walk (prose rarely has two dots in a row).
  // Only the whitespace-delimited words holding a `..` can climb; walk those, not the whole text.
  for (let dots = s.indexOf('..'); dots >= 0; ) {
    // The word's start, found by stepping back over it (lastIndexOf would scan back to the start of a long value for a missing newline).
    let from = dots;
    while (from > 0 && s.charCodeAt(from - 1) !== 0x20 && s.charCodeAt(from - 1) !== 0x0a) from--;
    let to = s.indexOf(' ', dots);
    if (to < 0) to = s.length;
    const word = s.slice(from, to);
    const climb = escapeDepth(word);
    if (climb.depth > 0) {
      const target = word.slice(climb.end).toLowerCase().replaceAll('\\', '/');
      const obfuscated = raw !== null && !raw.includes(word);
      if (climb.depth >= 2 || climb.odd || obfuscated || isSensitive('/' + target)) return { at: from + climb.at, reason: `path climbs ${climb.depth} level(s) above its root` };
    }
    dots = s.indexOf('..', to);
  }
  const lead = leadingPath(s);
  if (lead !== null) {
    if (isSensitive(lead)) return { at: 0, reason: 'sensitive system file' };
  }
  const lower = s.length > 64 ? s.slice(0, 64).toLowerCase() : s.toLowerCase();
  for (const scheme of INCLUSION_SCHEMES) if (lower.startsWith(scheme) && lower.length > scheme.length + 1) return { at: 0, reason: `${scheme} inclusion wrapper` };
  return null;
}

interface Climb {
  depth: number;
  at: number;
  end: number;
  /** `....`, `..;`, `..\` or `.. ` segments: only an evasion writes those. */
  odd: boolean;
}

/** How far above its start the path in `s` climbs (0 when never), scanning all of `s` once. */
function escapeDepth(s: string): Climb {
  const n = s.length;
  addWork(n);
  let level = 0;
  let lowest = 0;
  let at = -1;
  let end = 0;
  let odd = false;
  let segStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2f;
    if (c !== 0x2f && c !== 0x5c && c !== 0x3b && i < n) continue;
    // A space or other separator ends a path in prose: restart counting at a new word.
    const seg = segmentKind(s, segStart, i);
    if (seg === 'up' || seg === 'odd-up') {
      level--;
      if (seg === 'odd-up' || c === 0x5c || c === 0x3b) odd = odd || seg === 'odd-up' || (c === 0x5c);
      if (level < lowest) {
        lowest = level;
        if (at < 0) at = segStart;
        end = i + 1;
      }
    } else if (seg === 'name') level++;
    else if (seg === 'break') level = 0;
    segStart = i + 1;
  }
  return { depth: -lowest, at: Math.max(at, 0), end: Math.min(end, n), odd };
}

type Segment = 'up' | 'odd-up' | 'name' | 'empty' | 'break';

function segmentKind(s: string, a: number, b: number): Segment {
  if (a === b) return 'empty';
  let dots = 0;
  let k = a;
  while (k < b && s.charCodeAt(k) === 0x2e) {
    dots++;
    k++;
  }
  if (k === b) {
    if (dots === 1) return 'empty';
    // `....//` survives a filter that strips `../` once; `...` is an ellipsis in prose.
    return dots === 2 ? 'up' : dots >= 4 ? 'odd-up' : 'name';
  }
  // `.. ` or `..%00`-style trailing junk after the dots still reaches the parent on some systems.
  if (dots >= 2 && b - k <= 2 && (s.charCodeAt(k) === 0x20 || s.charCodeAt(k) === 0x00 || s.charCodeAt(k) === 0x3f)) return 'odd-up';
  // A segment holding whitespace is prose ("see docs/.. for more"): it ends the path.
  for (let j = a; j < b; j++) if (s.charCodeAt(j) === 0x20) return 'break';
  return 'name';
}

/** The value as a path if it begins like one (`/…`, `\…`, `C:\…`, `file:///…`), lower-cased with forward slashes. */
function leadingPath(s: string): string | null {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 0x20) i++;
  const c = s.charCodeAt(i);
  let start = -1;
  if (c === 0x2f || c === 0x5c || c === 0x7e) start = i;
  else if (((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) && s.charCodeAt(i + 1) === 0x3a && (s.charCodeAt(i + 2) === 0x5c || s.charCodeAt(i + 2) === 0x2f)) start = i + 2;
  else if (s.slice(i, i + 7).toLowerCase() === 'file://') {
    start = i + 7;
    // file://localhost/etc/passwd or file:///c:/…
    const slash = s.indexOf('/', start);
    if (slash > start) start = slash;
  }
  if (start < 0) return null;
  const path = s.slice(start, start + 256).toLowerCase().replaceAll('\\', '/');
  const noDrive = /^\/[a-z]:\//.test(path) ? path.slice(3) : path;
  // Collapse `//` and `/./` so `/etc//passwd` and `/etc/./passwd` are seen as /etc/passwd.
  return noDrive.replace(/\/(\.?\/)+/g, '/');
}

function isSensitive(path: string): boolean {
  const p = path.replace(/\/(\.?\/)+/g, '/').split(/[\s?#\0]/, 1)[0] ?? '';
  for (const target of SENSITIVE_PATHS) {
    if (target.endsWith('/')) {
      if (p.startsWith(target) && p.length > target.length) return true;
      // Hidden credential folders anywhere: `/home/u/.ssh/id_rsa`, `/srv/app/.git/config`.
      if (target.startsWith('/.') && p.includes(target) && !p.endsWith(target)) return true;
      // Windows files under their folder, `/windows/win.ini`, `/winnt/system32/…`
    } else if (p === target || p.startsWith(target + '/') || p.startsWith(target + '.') || (p.endsWith(target) && p.startsWith('/') && target.length > 5 && p.split('/').length <= 6)) return true;
  }
  return false;
}
