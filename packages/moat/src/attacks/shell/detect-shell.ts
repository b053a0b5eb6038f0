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

const SEPARATORS = /[;|&\n\r`]|\$\(/g;
const IFS = /\$\{IFS\}|\$IFS\$?\d?|\$\{IFS%\?\?\}|\$\{IFS:0:1\}/i;

export function detectShell(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  // `${IFS}` stands in for a space only in a shell: nothing else writes it.
  if (s.includes('$') && IFS.test(s)) return { at: s.search(IFS), reason: '${IFS} used as a space' };
  SEPARATORS.lastIndex = 0;
  // The regex finds the next separator natively; the loop below only runs where one is.
  for (let m = SEPARATORS.exec(s); m; m = SEPARATORS.exec(s)) {
    let i = m.index;
    const c = s.charCodeAt(i);
    let from = -1;
    let reason = '';
    if (c === 0x3b || c === 0x7c || c === 0x26 || c === 0x0a || c === 0x0d) {
      // `&amp;`, `&#39;`: HTML references, not a background operator.
      if (c === 0x26 && /^&#?\w+;/.test(s.slice(i, i + 10))) continue;
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
        if (close > i) SEPARATORS.lastIndex = close + 1;
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
  // Read one shell word, removing the quoting a shell would remove.
  let word = '';
  let obfuscated = false;
  let j = i;
  for (; j < n && word.length < 40; j++) {
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
  // A word argument followed by a redirect or pipe on the same line: `echo x > /tmp/f`.
  const line = s.slice(j, j + 200).split(/[;\n&]/, 1)[0];
  if (/[<>|]/.test(line)) return true;
  return (
    c === 0x2d || c === 0x2f || c === 0x2e || c === 0x7e || c === 0x24 || c === 0x22 || c === 0x27 || c === 0x5c || c === 0x3e || c === 0x3c || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x23 || c === 0x0a || c === 0x25 ||
    (c >= 0x30 && c <= 0x39) || /^(https?:|[a-z]:\\|[\w-]+\.[a-z]{2,}|\w+:\d)/i.test(s.slice(j, j + 12))
  );
}
