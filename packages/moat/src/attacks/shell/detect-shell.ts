/**
 * Shell command injection by structure: a command separator (`;`, `|`, `&`, `||`, `&&`, a newline)
 * followed by a command, or a substitution (`$(…)`, backticks) holding one. The command word is read
 * as the shell would after its own quote removal (`c'a't`, `c\at`, `/bin/cat`, `$@` glue), and must be
 * used like a command: alone, or with an argument that looks like one (`-la`, `/etc/passwd`, `5`).
 * "use ls -la" (no separator), "Tom & Jerry" and "cats; cat lovers unite" therefore pass.
 */
import { F_AMP, F_BACKTICK, F_DOLLAR, F_NEWLINE, F_PIPE, F_SEMI } from '../features.js';
import type { Finding } from '../types.js';
import { SHELL_COMMANDS, SHELL_STRONG_COMMANDS } from '../words/shell.js';
import { addWork } from '../work-counter.js';

export const SHELL_FEATURES = F_SEMI | F_PIPE | F_AMP | F_NEWLINE | F_BACKTICK | F_DOLLAR;

/** What starts a command: separators, a backtick, `$(`. Searched one kind at a time (see nextSeparator). */
const SEPARATORS = [';', '|', '&', '\n', '\r', '`', '$('];
/** An HTML character reference at a `&` (`&amp;`, `&#39;`), within 10 characters. */
const HTML_REFERENCE = /&#?\w+;/y;
/** `${IFS}` and its spellings, tried at each `$` (a case-insensitive regex over a whole long value tried every character). */
const IFS_AT = /\$\{IFS\}|\$IFS\$?\d?|\$\{IFS%\?\?\}|\$\{IFS:0:1\}/iy;

export function detectShell(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  // `${IFS}` stands in for a space only in a shell: nothing else writes it.
  for (let d = s.indexOf('$'); d >= 0; d = s.indexOf('$', d + 1)) {
    IFS_AT.lastIndex = d;
    if (IFS_AT.test(s)) return { at: d, reason: '${IFS} used as a space' };
  }
  // Native searches find the next separator; the loop below only runs where one is.
  const next = [-2, -2, -2, -2, -2, -2, -2];
  for (let i = nextSeparator(s, 0, next), resume = 0; i >= 0; i = nextSeparator(s, resume, next)) {
    resume = i + 1;
    const c = s.charCodeAt(i);
    let from = -1;
    let reason = '';
    if (c === 0x3b || c === 0x7c || c === 0x26 || c === 0x0a || c === 0x0d) {
      // `&amp;`, `&#39;`: HTML references, not a background operator.
      if (c === 0x26 && isHtmlReference(s, i)) continue;
      from = i + 1;
      while (from < n && (s.charCodeAt(from) === 0x7c || s.charCodeAt(from) === 0x26)) from++;
      reason = 'command separator followed by a command';
    } else if (c === 0x24 && s.charCodeAt(i + 1) === 0x28 && s.charCodeAt(i + 2) !== 0x28) {
      from = i + 2;
      reason = '$( ) command substitution';
    } else if (c === 0x60) {
      const close = s.indexOf('`', i + 1);
      // Markdown code spans (`ls -la` between spaces) are prose; a backtick glued to an argument or
      // making up the whole value is a substitution.
      const glued = i > 0 && !isBlank(s.charCodeAt(i - 1));
      const whole = i === 0 && (close === n - 1 || close < 0);
      if (!glued && !whole) {
        if (close > i) resume = close + 1;
        continue;
      }
      from = i + 1;
      reason = 'backtick command substitution';
    } else continue;
    // After a pipe or a conditional (`|`, `||`, `&&`) prose is rare: any known command counts there.
    const strongSeparator = c === 0x7c || (c === 0x26 && s.charCodeAt(i + 1) === 0x26);
    const command = commandAt(s, from, strongSeparator || reason !== 'command separator followed by a command');
    if (command) return { at: i, reason };
  }
  return null;
}

/**
 * Index of the next separator from `i`, or -1: one indexOf per kind, each kind's next position kept in
 * `next` so a kind absent from the value is searched once. A regex over the character class had to try
 * every character of a long value, and prose holds few separators.
 */
export function nextSeparator(s: string, i: number, next: number[]): number {
  let best = -1;
  for (let k = 0; k < SEPARATORS.length; k++) {
    let at = next[k] ?? -2;
    if (at !== -1 && at < i) next[k] = at = s.indexOf(SEPARATORS[k]!, i);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}

function isHtmlReference(s: string, i: number): boolean {
  HTML_REFERENCE.lastIndex = i;
  return HTML_REFERENCE.test(s) && HTML_REFERENCE.lastIndex - i <= 10;
}

/**
 * End of the word at `i` when it needs no quote removal (ASCII, no quote, backslash or `$`), as the
 * character loop in commandAt would end it (a breaking character, or 40 characters); else -1.
 */
function plainWordEnd(s: string, i: number): number {
  const n = s.length;
  let j = i;
  for (; j < n && j - i < 40; j++) {
    const c = s.charCodeAt(j);
    if (isBlank(c) || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x3e || c === 0x3c || c === 0x29 || c === 0x60 || c === 0x7d) break;
    if (c === 0x27 || c === 0x22 || c === 0x5c || c === 0x24 || c >= 0x80) return -1;
  }
  return j === i ? -1 : j;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Whether a command starts at `i`. In a substitution any known command counts; after a separator it
 * must be used like one (see the file comment).
 */
function commandAt(s: string, i: number, substitution: boolean): boolean {
  const n = s.length;
  while (i < n && (isBlank(s.charCodeAt(i)) || s.charCodeAt(i) === 0x28 || s.charCodeAt(i) === 0x7b)) i++;
  // Read one shell word, removing the quoting a shell would remove. Most words hold no quoting: those
  // are sliced once (plainWordEnd) instead of being built a character at a time.
  let word = '';
  let obfuscated = false;
  const plainEnd = plainWordEnd(s, i);
  if (plainEnd >= 0) word = s.slice(i, plainEnd).toLowerCase();
  let j = plainEnd >= 0 ? plainEnd : i;
  for (; plainEnd < 0 && j < n && word.length < 40; j++) {
    const c = s.charCodeAt(j);
    if (isBlank(c) || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x3e || c === 0x3c || c === 0x29 || c === 0x60 || c === 0x7d) break;
    if (c === 0x27 || c === 0x22 || c === 0x5c) {
      obfuscated = true;
      continue;
    }
    if (c === 0x24 && s.charCodeAt(j + 1) === 0x28 && s.charCodeAt(j + 2) === 0x29) {
      obfuscated = true; // `who$()ami`: an empty substitution glues the word back together
      j += 2;
      continue;
    }
    if (c === 0x24 && (s.charCodeAt(j + 1) === 0x40 || s.charCodeAt(j + 1) === 0x2a)) {
      obfuscated = true;
      j++;
      continue;
    }
    word += String.fromCharCode(c).toLowerCase();
  }
  addWork(j - i);
  if (word.length === 0) return false;
  // `/bin/cat`, `/usr/bin/id`, and globs standing in for a path (`/???/c?t`).
  const slash = word.lastIndexOf('/');
  const base = slash >= 0 ? word.slice(slash + 1) : word;
  if (slash >= 0 && /[?*]/.test(word) && word.startsWith('/')) return true;
  if (!SHELL_COMMANDS.has(base)) return false;
  if (substitution || obfuscated || slash >= 0 || SHELL_STRONG_COMMANDS.has(base)) return true;
  // The rest of the line after the command word: an argument, a redirect, or nothing.
  while (j < n && (s.charCodeAt(j) === 0x20 || s.charCodeAt(j) === 0x09)) j++;
  if (j >= n) return true;
  const c = s.charCodeAt(j);
  // A word argument followed by a redirect or pipe on the same line: `echo x > /tmp/f`. Within 64
  // characters: further on, a `<`, `>` or `|` belongs to other text (a long comment's "A&W Root Beer
  // … 1 < 2" read `w` as a command).
  const line = s.slice(j, j + 64).split(/[;\n&]/, 1)[0] ?? '';
  if (/[<>|]/.test(line)) return true;
  return (
    c === 0x2d || c === 0x2f || c === 0x2e || c === 0x7e || c === 0x24 || c === 0x22 || c === 0x27 || c === 0x5c || c === 0x3e || c === 0x3c || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x23 || c === 0x0a || c === 0x25 ||
    (c >= 0x30 && c <= 0x39) || /^(https?:|[a-z]:\\|[\w-]+\.[a-z]{2,}|\w+:\d)/i.test(s.slice(j, j + 12))
  );
}
