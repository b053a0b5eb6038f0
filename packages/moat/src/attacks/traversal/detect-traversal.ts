/**
 * Path traversal and local file inclusion by structure. The value is read as a path (both slash
 * kinds): each `..` segment climbs one level, each name descends one; a path that climbs above where it
 * started escapes its root. A relative link climbing one level (`../img/a.png`) is everyday Markdown,
 * so one level is an attack only with evidence of intent: a sensitive target, obfuscated dots
 * (`....//`, encoded, overlong), backslashes or a NUL. `docs/../readme.txt` never leaves its folder and
 * passes. Separately: a value that *is* a sensitive system path, or uses an inclusion wrapper (`php://`).
 */
import { F_BACKSLASH, F_COLON, F_DOTDOT, F_SLASH, isRegexSpace } from '../features.js';
import type { Finding } from '../types.js';
import { FILE_SYSTEM_PATHS, INCLUSION_SCHEMES, ROOT_FOLDERS, SENSITIVE_PATHS } from '../words/paths.js';
import { addWork } from '../work-counter.js';
import { lowerCased } from '../../text/fast-case.js';

export const TRAVERSAL_FEATURES = F_DOTDOT | F_SLASH | F_BACKSLASH | F_COLON;

/**
 * `raw`: when `s` is a decoded view, the value as it arrived. A climbing word that is not in it verbatim
 * needed decoding to show its dots or slashes — an evasion. Judged per word, not per value: a long
 * comment holding `&amp;` somewhere and a plain `../images/logo.png` elsewhere is no evasion.
 */
export function detectTraversal(s: string, raw: string | null): Finding | null {
  // Where in `raw` the next climbing word is looked for: words come in the order they were written, so
  // each is searched for from the end of the one found before, and `raw` is read once in all. A search of
  // the whole of `raw` per word read half a 64 KiB value for each of thousands of distinct words (160 ms).
  let rawFrom = 0;
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
      const rest = lowerCased(word.slice(climb.end));
      const target = rest.includes('\\') ? rest.replaceAll('\\', '/') : rest;
      let obfuscated = false;
      if (raw !== null) {
        const found = raw.indexOf(word, rawFrom);
        obfuscated = found < 0;
        if (!obfuscated) rawFrom = found + word.length;
      }
      // A word with no separator is one segment: dots and a `?` or `!` there (`So ...?`, `and then ..?`)
      // end a sentence, unless the value is that word alone. Four dots and no more stay an evasion.
      const odd = climb.odd && ((from === 0 && to === s.length) || hasSeparator(word) || onlyDots(word));
      if (climb.depth >= 2 || odd || obfuscated || isSensitive('/' + target, true)) return { at: from + climb.at, reason: `path climbs ${climb.depth} level(s) above its root` };
    }
    dots = s.indexOf('..', to);
  }
  const lead = leadingPath(s);
  if (lead !== null) {
    if (isSensitive(lead.path, lead.fileSystem)) return { at: 0, reason: 'sensitive system file' };
  }
  const lower = s.length > 64 ? s.slice(0, 64).toLowerCase() : s.toLowerCase();
  // A wrapper is followed by its path or `//`; "File: invoice.pdf", "Jar: 16 oz" are a label and prose.
  for (const scheme of INCLUSION_SCHEMES) if (lower.startsWith(scheme) && lower.length > scheme.length + 1 && !isRegexSpace(lower.charCodeAt(scheme.length))) return { at: 0, reason: `${scheme} inclusion wrapper` };
  return null;
}

function onlyDots(word: string): boolean {
  for (let i = 0; i < word.length; i++) if (word.charCodeAt(i) !== 0x2e) return false;
  return true;
}

function hasSeparator(word: string): boolean {
  return word.includes('/') || word.includes('\\') || word.includes(';');
}

interface Climb {
  depth: number;
  at: number;
  end: number;
  /** `....`, `..;`, `..\` or `.. ` segments: only an evasion writes those. */
  odd: boolean;
}

/**
 * How far above its start the path in `s` climbs (0 when never), scanning all of `s` once. Two readings:
 * Windows (and `..;/` to Java servers) also splits at `\` and `;`, while POSIX splits at `/` only, so
 * `x\x\x/../../..` or `a;a;a/../../..` is three names to one and a single name to the other: the
 * deeper climb counts.
 */
function escapeDepth(s: string): Climb {
  const n = s.length;
  addWork(n);
  let level = 0;
  let lowest = 0;
  let at = -1;
  let end = 0;
  let odd = false;
  let segStart = 0;
  // The POSIX reading; its segments differ only when one holds `\` or `;` (`split`), else it follows the first.
  let pLevel = 0;
  let pLowest = 0;
  let pAt = -1;
  let pEnd = 0;
  let pStart = 0;
  let split = false;
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
    if (c !== 0x2f) {
      split = true;
      continue;
    }
    // The segment since the last `/`: the same as above unless it held a `\` or `;`.
    const pSeg = split ? segmentKind(s, pStart, i) : seg;
    split = false;
    if (pSeg === 'up' || pSeg === 'odd-up') {
      pLevel--;
      if (pLevel < pLowest) {
        pLowest = pLevel;
        if (pAt < 0) pAt = pStart;
        pEnd = i + 1;
      }
    } else if (pSeg === 'name') pLevel++;
    else if (pSeg === 'break') pLevel = 0;
    pStart = i + 1;
  }
  if (pLowest < lowest) return { depth: -pLowest, at: Math.max(pAt, 0), end: Math.min(pEnd, n), odd };
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

/**
 * The value as a path if it begins like one (`/…`, `\…`, `C:\…`, `file:///…`), lower-cased with forward
 * slashes. `fileSystem`: only a file system reads it so (a drive, a backslash, `~`, `file://`); a plain
 * `/a/b` is also how a URL path or a site's route reads (`/windows/download`, `/account/credentials`).
 */
function leadingPath(s: string): { path: string; fileSystem: boolean } | null {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 0x20) i++;
  const c = s.charCodeAt(i);
  let start = -1;
  let fileSystem = true;
  if (c === 0x2f || c === 0x5c || c === 0x7e) {
    start = i;
    fileSystem = c !== 0x2f;
  } else if (((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) && s.charCodeAt(i + 1) === 0x3a && (s.charCodeAt(i + 2) === 0x5c || s.charCodeAt(i + 2) === 0x2f)) start = i + 2;
  else if (s.slice(i, i + 7).toLowerCase() === 'file://') {
    start = i + 7;
    // file://localhost/etc/passwd or file:///c:/…
    const slash = s.indexOf('/', start);
    if (slash > start) start = slash;
  }
  if (start < 0) return null;
  const head = s.slice(start, start + 256);
  if (head.includes('\\')) fileSystem = true;
  const path = head.toLowerCase().replaceAll('\\', '/');
  const noDrive = /^\/[a-z]:\//.test(path) ? path.slice(3) : path;
  // Collapse `//` and `/./` so `/etc//passwd` and `/etc/./passwd` are seen as /etc/passwd.
  return { path: noDrive.replace(/\/(\.?\/)+/g, '/'), fileSystem };
}

/**
 * SENSITIVE_PATHS sorted by what each test needs, with the strings they compare against made once:
 * building `target + '/'` and `target + '.'` for all of them at every call cost ~2 µs a climbing word,
 * and a value of thousands of `../x` words (none sensitive) then took 40 ms.
 */
const ROOT_SET: ReadonlySet<string> = new Set(ROOT_FOLDERS);
const FOLDERS = SENSITIVE_PATHS.filter((t) => t.endsWith('/'));
const HIDDEN_FOLDERS = FOLDERS.filter((t) => t.startsWith('/.'));
const FILES = SENSITIVE_PATHS.filter((t) => !t.endsWith('/'));
/** Targets recognised only in a file-system path (FILE_SYSTEM_PATHS): `true` beside each below. */
const FS_ONLY = new Set(FILE_SYSTEM_PATHS);
/** Per character after the leading `/` (ASCII), the files and folders starting with it: a path is compared with those only. */
const BY_SECOND = Array.from({ length: 128 }, (_, c) => ({
  folders: FOLDERS.filter((t) => t.charCodeAt(1) === c).map((t) => [t, FS_ONLY.has(t)] as const),
  files: FILES.filter((t) => t.charCodeAt(1) === c).map((t) => [t, t + '/', t + '.', FS_ONLY.has(t)] as const),
}));
/**
 * Files recognised at the end of a short absolute path (`/var/www/wp-config.php`, `/srv/app/.env`,
 * `/windows/system32/config/sam`), by their last character; `/sam` is too common a last name
 * (`/team/sam`). Not those under a root folder: `/docs/etc/hosts` is no /etc/hosts, which is only where
 * it is from the root.
 */
const BY_LAST = Array.from({ length: 128 }, (_, c) => FILES.filter((t) => t.length >= 5 && !inRootFolder(t) && t.charCodeAt(t.length - 1) === c).map((t) => [t, FS_ONLY.has(t)] as const));
const PATH_END = /[\s?#\0]/;
/** Characters of a path resolved for `..` at most: every target is far shorter. */
const NORMALIZE_MAX = 256;

/**
 * `fileSystem`: the path is known to be read by a file system (a drive, a backslash, a climb); else it
 * may be a site's route and FILE_SYSTEM_PATHS count only below a root folder (`/var/www/…/wp-config.php`).
 */
function isSensitive(path: string, fileSystem: boolean): boolean {
  let p = path.includes('//') || path.includes('/./') ? path.replace(/\/(\.?\/)+/g, '/') : path;
  const cut = p.search(PATH_END);
  if (cut >= 0) p = p.slice(0, cut);
  // `/etc/ssl/../passwd` is /etc/passwd to the file system: resolve `..` before comparing.
  if (p.charCodeAt(0) === 0x2f && p.includes('/..')) p = resolveDots(p.length > NORMALIZE_MAX ? p.slice(0, NORMALIZE_MAX) : p);
  // Every target starts with `/`: a path starting otherwise matches none from its start.
  const second = p.charCodeAt(0) === 0x2f ? p.charCodeAt(1) : -1;
  const fs = fileSystem || inRootFolder(p);
  if (second >= 0 && second < 128) {
    const bucket = BY_SECOND[second]!; // second < 128, the table's length
    for (const [t, fsOnly] of bucket.folders) if ((fs || !fsOnly) && p.startsWith(t) && p.length > t.length) return true;
    for (const [t, asFolder, withSuffix, fsOnly] of bucket.files) if ((fs || !fsOnly) && (p === t || p.startsWith(asFolder) || p.startsWith(withSuffix))) return true;
    // Any process's files, `/proc/1234/environ`, not only pid 1.
    if (second === 0x70 && isProcPid(p)) return true;
  }
  // Hidden credential folders anywhere: `/home/u/.ssh/id_rsa`, `/srv/app/.git/config`.
  if (p.includes('/.')) for (const t of HIDDEN_FOLDERS) if (p.includes(t) && !p.endsWith(t)) return true;
  // Windows files under their folder, `/windows/win.ini`, `/winnt/system32/…`; config files deep in an app.
  const last = p.charCodeAt(p.length - 1);
  const byLast = last < 128 ? BY_LAST[last]! : NONE; // last < 128, the table's length
  if (second >= 0 && byLast.length > 0 && slashes(p) <= 5) for (const [t, fsOnly] of byLast) if ((fs || !fsOnly) && p.endsWith(t)) return true;
  return false;
}

const NONE: readonly (readonly [string, boolean])[] = [];

/** Whether `p` starts in one of ROOT_FOLDERS (`/var/…`, `/etc/…`). */
function inRootFolder(p: string): boolean {
  const slash = p.indexOf('/', 1);
  if (slash < 0) return false;
  return ROOT_SET.has(p.slice(1, slash));
}


/** `/proc/<digits>/…` with something after the folder. */
function isProcPid(p: string): boolean {
  if (!p.startsWith('/proc/')) return false;
  let i = 6;
  while (i < p.length && p.charCodeAt(i) >= 0x30 && p.charCodeAt(i) <= 0x39) i++;
  return i > 6 && p.charCodeAt(i) === 0x2f && i + 1 < p.length;
}

/** An absolute path with its `.` and `..` segments resolved (`..` at the root stays there), as POSIX does. */
function resolveDots(p: string): string {
  const kept: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '..') kept.pop();
    else if (seg !== '.' && seg !== '') kept.push(seg);
  }
  const out = '/' + kept.join('/');
  return p.endsWith('/') && kept.length > 0 ? out + '/' : out;
}

function slashes(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}
