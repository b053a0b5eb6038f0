/**
 * Shell command injection by structure: a command separator (`;`, `|`, `&`, `||`, `&&`, a newline)
 * followed by a command, or a substitution (`$(…)`, backticks) holding one. The command word is read
 * as the shell would after its own quote removal (`c'a't`, `c\at`, `/bin/cat`, `$@` glue), and must be
 * used like a command: alone, or with an argument that looks like one (`-la`, `/etc/passwd`, `5`).
 * "use ls -la" (no separator), "Tom & Jerry" and "cats; cat lovers unite" therefore pass.
 */
import { F_AMP, F_BACKTICK, F_DOLLAR, F_NEWLINE, F_PIPE, F_SEMI } from '../features.js';
import type { Finding } from '../types.js';
import { HTML_NAMED_ENTITIES } from '../words/html.js';
import { SHELL_BARE_COMMANDS, SHELL_COMMANDS, SHELL_ENTITY_COMMANDS, SHELL_INPUT_COMMANDS, SHELL_NUMBER_ACTS, SHELL_NUMBER_IS_PROSE, SHELL_OPTION_COMMANDS, SHELL_STRONG_COMMANDS, SHELL_SUBCOMMANDS, SHELL_VERSIONED, SHELL_WRAPPERS } from '../words/shell.js';
import { addWork } from '../work-counter.js';
import { NEAR, indexOfNear } from '../../text/near-index.js';
import { QuotePlaces } from './quote-places.js';

export const SHELL_FEATURES = F_SEMI | F_PIPE | F_AMP | F_NEWLINE | F_BACKTICK | F_DOLLAR;

/** What starts a command: separators, a backtick, `$(`. Searched one kind at a time (see nextSeparator). */
const SEPARATORS = [';', '|', '&', '\n', '\r', '`', '$('];
/** The first character of each separator (`$` only starts one before `(`). */
const SEPARATOR_START = new Uint8Array(128);
for (const separator of SEPARATORS) SEPARATOR_START[separator.charCodeAt(0)] = 1;
/** Characters of a word read with its quoting removed (at most 40), reused by every read. */
const WORD = new Uint16Array(40);
/** What a character is to the quoted-word loop of commandAt (ASCII; the rest are PLAIN). */
const PLAIN = 0;
const BREAK = 1;
const QUOTE = 2;
const DOLLAR = 3;
const WORD_CHAR = (() => {
  const table = new Uint8Array(0x80);
  for (const c of [0x20, 0x09, 0x0a, 0x0d, 0x3b, 0x7c, 0x26, 0x3e, 0x3c, 0x29, 0x60, 0x7d]) table[c] = BREAK;
  for (const c of [0x27, 0x22, 0x5c]) table[c] = QUOTE;
  table[0x24] = DOLLAR;
  return table;
})();
/** ASCII characters of command names (either case: the word is lower-cased after) and the path glob. */
const NAME_CHAR = (() => {
  const table = new Uint8Array(0x80);
  for (let c = 0; c < 0x80; c++) table[c] = /[A-Za-z0-9._\-/?*]/.test(String.fromCharCode(c)) ? 1 : 0;
  return table;
})();
/** Per first letter (a–z), a bit per length of the commands that start with it. */
const COMMAND_LENGTHS = (() => {
  const table = new Uint32Array(26);
  for (const name of [...SHELL_COMMANDS, ...SHELL_WRAPPERS.keys(), ...SHELL_OPTION_COMMANDS, ...SHELL_VERSIONED]) {
    const first = name.charCodeAt(0) - 0x61;
    if (first >= 0 && first < 26 && name.length < 32) table[first]! |= 1 << name.length;
  }
  return table;
})();

/** Whether some command begins with this (ASCII, either case) character and has this length. */
function couldBeCommand(first: number, length: number): boolean {
  const letter = (first | 0x20) - 0x61;
  return letter >= 0 && letter < 26 && length < 32 && (COMMAND_LENGTHS[letter]! & (1 << length)) !== 0;
}


/** Length of the longest name in SHELL_COMMANDS: a longer word after its last `/` is no command. */
const LONGEST_COMMAND = Math.max(...[...SHELL_COMMANDS].map((name) => name.length));
/** An HTML character reference at a `&` (`&amp;`, `&#39;`), within 10 characters. */
const HTML_REFERENCE = /&#?\w+;/y;
/** How the word after a separator is read: any known command counts, used like a command, or (after `if`, `then`…) followed by the clause's keyword. */
const STRONG = 2;
const WEAK = 1;
const CLAUSE = 0;
/**
 * Where a command word stands, as prose would put a word there: SPACED, a separator with a space or tab on both
 * sides ("dog & cat", "Books | more") or a newline; PROSE_AT, a blank or a newline right after the separator
 * (where "Sale | Free shipping" capitalises its word); PIPED, after a single `|` (a shell alone there runs
 * what is piped into it).
 */
const SPACED = 1;
const PROSE_AT = 2;
const PIPED = 4;
/** Wrappers read through (`nohup env sudo id`): at most this many deep. */
const MAX_DEPTH = 4;
/** `$0 -c id`, `${SHELL} <x`: the running shell itself, with an option or an input. */
const SHELL_SELF = /\$(?:0|\{0\}|SHELL\b|\{SHELL\}|BASH\b|\{BASH\})(?:[ \t]+-[A-Za-z]|[ \t]*<)/y;
/** After `if CMD`, `while CMD`, `then CMD`: the clause goes on with its keyword (`;then`, `; do`, `;fi`). */
const CLAUSE_GOES_ON = /[;&\n\r][ \t\n\r]{0,8}(?:then|do|done|fi|else|elif)(?![\w-])/y;
/** `name=value` before a command or alone (`a=i;b=d;$a$b`); the value kept only when short and plain. */
const ASSIGNMENT = /([A-Za-z_]\w{0,30})=([\w./-]{0,16})(?![^ \t;&|\n\r])/y;
/** The start of an assignment word, for the wrapper's own prefixes (`env A=1 id`). */
const ASSIGNMENT_START = /[A-Za-z_]\w{0,30}=/y;
/** What `.` sources (any path), and what `source` does (a path from the root of a Unix tree, relative, home, or a variable): "; source /r/funny" is prose. */
const DOT_SCRIPT = /(?:\.{0,2}\/|~\/|\$[A-Za-z_{])/y;
const SOURCED_SCRIPT = /(?:\.{1,2}\/|~\/|\/(?:tmp|dev|proc|var|home|etc|usr|root|opt|srv|run|bin|sbin|lib|mnt|media)\/|\$[A-Za-z_{])/y;
/** An option word (`-T`, `--checkpoint-action`) among a command's arguments on its line. */
const OPTION_ON_LINE = /(?:^|[ \t])--?[A-Za-z]/;
/** Variables this value assigned before the word being read (at most 8; cleared per value). */
const ASSIGNED = new Map<string, string>();
/** `${IFS}` and its spellings, tried at each `$` (a case-insensitive regex over a whole long value tried every character). */
const IFS_AT = /\$\{IFS\}|\$IFS\$?\d?|\$\{IFS%\?\?\}|\$\{IFS:0:1\}/iy;

const SEPARATED = 'command separator followed by a command';
/** The quotes of the value being read (reset per value, read only when a separator's command is found). */
const quotePlaces = new QuotePlaces();

/** Where the value's last `'` and `"` are (set per value): a quote at or after it is never closed. */
let lastSingleQuote = -1;
let lastDoubleQuote = -1;

export function detectShell(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  if (ASSIGNED.size > 0) ASSIGNED.clear();
  quotePlaces.reset(s);
  lastSingleQuote = s.lastIndexOf("'");
  lastDoubleQuote = s.lastIndexOf('"');
  // `${IFS}` stands in for a space only in a shell: nothing else writes it.
  // Every spelling goes on with `{` or an `I`: the regex runs only there (a call per `$` cost ~60 ns, a value of `$(` 64 KiB long).
  for (let d = indexOfNear(s, '$', 0); d >= 0; d = indexOfNear(s, '$', d + 1)) {
    const after = s.charCodeAt(d + 1) | 0x20;
    if (after !== 0x7b && after !== 0x69) continue;
    IFS_AT.lastIndex = d;
    if (IFS_AT.test(s)) return { at: d, reason: '${IFS} used as a space' };
  }
  // Native searches find the next separator; the loop below only runs where one is.
  const next = [-2, -2, -2, -2, -2, -2, -2];
  // Runs of separators and blanks (`||||`, newlines, `&&&&`) lead every separator in them to the same
  // command word: the runs are skipped once (SkipRun) and a word is read once per strength (a value of
  // 64 Ki newlines took seconds when each separator rescanned the run after it).
  const operators = new SkipRun(isOperator);
  const leading = new SkipRun(isLeading);
  const pipeLines = new PipeLines();
  let checkedAt = -1;
  let checkedStrong = false;
  // Where the last operator run (`||`, `&&`) ended and whether a blank stood before it: a separator inside
  // the run takes its blank from the run's start.
  let runEnd = -1;
  let runBlankBefore = false;
  for (let i = nextSeparator(s, 0, next), resume = 0; i >= 0; i = nextSeparator(s, resume, next)) {
    resume = i + 1;
    const c = s.charCodeAt(i);
    let from = -1;
    let reason = '';
    let context = 0;
    if (c === 0x3b || c === 0x7c || c === 0x26 || c === 0x0a || c === 0x0d) {
      // `&amp;`, `&#39;`: HTML references, not a background operator.
      if (c === 0x26 && isHtmlReference(s, i)) continue;
      if (c === 0x7c && isCapitalsList(s, i)) continue;
      // A Markdown table row starts with `|`: a syntax error to a shell, so none of its pipes run.
      if ((c === 0x7c || (c === 0x0a && s.charCodeAt(i + 1) === 0x7c)) && pipeLines.startsWithPipe(s, c === 0x0a ? i + 1 : i)) continue;
      from = operators.end(s, i + 1);
      reason = SEPARATED;
      const blankBefore: boolean = i < runEnd ? runBlankBefore : i > 0 && (s.charCodeAt(i - 1) === 0x20 || s.charCodeAt(i - 1) === 0x09);
      runEnd = from;
      runBlankBefore = blankBefore;
      const blankAfter = from < n && isBlank(s.charCodeAt(from));
      if (c === 0x0a || blankAfter) context |= PROSE_AT;
      if (c === 0x0a || (blankBefore && blankAfter)) context |= SPACED;
      if (c === 0x7c && s.charCodeAt(i + 1) !== 0x7c && s.charCodeAt(i - 1) !== 0x7c) context |= PIPED;
    } else if (c === 0x24 && s.charCodeAt(i + 1) === 0x28 && s.charCodeAt(i + 2) !== 0x28) {
      // `$('tr')`, `$("time")`: a jQuery selector; to a shell, one quoted word run alone (see SHELL_BARE_COMMANDS).
      const quoted = quotedAlone(s, i + 2);
      if (quoted !== null) {
        if (SHELL_BARE_COMMANDS.has(quoted)) return { at: i, reason: '$( ) command substitution' };
        continue;
      }
      from = i + 2;
      reason = '$( ) command substitution';
    } else if (c === 0x60) {
      // A Markdown fence (```python): the word after it alone is read as a command only when it tells
      // something run bare (```id); the lines inside it are read at their own newlines.
      if (s.charCodeAt(i + 1) === 0x60 && s.charCodeAt(i + 2) === 0x60) {
        let k = i + 3;
        while (k < n && s.charCodeAt(k) === 0x60) k++;
        addWork(k - i);
        if (commandAt(s, skipSpaces(s, k), WEAK, 0, SPACED)) return { at: i, reason: 'backtick command substitution' };
        resume = k;
        continue;
      }
      const close = s.indexOf('`', i + 1);
      // Markdown code spans (`ls -la` between spaces, or opened after punctuation that follows a blank:
      // (`make install`), **`make`**, "`ls`") are prose; a backtick glued to an argument or a lone quote
      // ("`id`"), or making up the whole value, is a substitution. An unclosed one is a syntax error.
      const glued = i > 0 && !isBlank(s.charCodeAt(i - 1)) && !opensCodeSpan(s, i);
      const whole = i === 0 && (close === n - 1 || close < 0);
      if (!whole && (!glued || close < 0)) {
        if (close > i) resume = close + 1;
        continue;
      }
      from = i + 1;
      reason = 'backtick command substitution';
    } else continue;
    // After a pipe or a conditional (`|`, `||`, `&&`) prose is rare: any known command counts there.
    const strongSeparator = c === 0x7c || (c === 0x26 && s.charCodeAt(i + 1) === 0x26);
    const strong = strongSeparator || reason !== 'command separator followed by a command';
    const start = leading.end(s, from);
    // A word already read at least as leniently was no command (a lenient reading accepts whatever a strict one does).
    if (start === checkedAt && (checkedStrong || !strong)) continue;
    // A separator's command runs only if its line parses: a quote the value never closes, in every place the
    // app may have put it, is a syntax error (quote-places.ts). Substitutions run inside "…" too: not asked.
    if (commandAt(s, start, strong ? STRONG : WEAK, 0, context) && (reason !== SEPARATED || quotePlaces.mayRunAt(i))) return { at: i, reason };
    if (start !== checkedAt) checkedStrong = false;
    checkedAt = start;
    checkedStrong ||= strong;
    // A long run (`\n\n\n…`, `||||`) holds separators that all lead here: once even the lenient reading
    // finds no command, they are passed over at once. Not when a `|` or `&` follows the run: a separator
    // inside it reads past that one (`;\n\n&id;`, whose `&` starts an HTML reference).
    const after = s.charCodeAt(start);
    if (start - i > 2 && after !== 0x7c && after !== 0x26) {
      if (!checkedStrong && !commandAt(s, start, STRONG, 0)) checkedStrong = true;
      if (checkedStrong) resume = start;
    }
  }
  return null;
}

/**
 * Index of the next separator from `i`, or -1: one indexOf per kind, each kind's next position kept in
 * `next` so a kind absent from the value is searched once. A regex over the character class had to try
 * every character of a long value, and prose holds few separators.
 */
export function nextSeparator(s: string, i: number, next: number[]): number {
  // The next few characters are read here first (near-index.ts): a search per kind cost a call per separator in dense text.
  const end = Math.min(s.length, i + NEAR);
  for (let j = i; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c < 0x80 && SEPARATOR_START[c] === 1 && (c !== 0x24 || s.charCodeAt(j + 1) === 0x28)) return j;
  }
  // None before `end` (a `$(` across it included), so the first of each kind from `end` is the first from `i`.
  let best = -1;
  for (let k = 0; k < SEPARATORS.length; k++) {
    let at = next[k] ?? -2;
    if (at !== -1 && at < end) next[k] = at = s.indexOf(SEPARATORS[k]!, end);
    if (at >= 0 && (best < 0 || at < best)) best = at;
  }
  return best;
}

/**
 * Whether the `&` at `i` starts an HTML reference rather than a background operator: numeric, or a name
 * that is no command, or a real entity name (`&reg;`). `x&id;` runs `id`; an upper-case name (`B&W;`) is
 * no command on a case-sensitive system.
 */
function isHtmlReference(s: string, i: number): boolean {
  HTML_REFERENCE.lastIndex = i;
  if (!HTML_REFERENCE.test(s)) return false;
  const end = HTML_REFERENCE.lastIndex - 1;
  if (end - i > 9) return false;
  const first = s.charCodeAt(i + 1);
  if (first === 0x23 || !couldBeCommand(first, end - i - 1)) return true;
  const name = s.slice(i + 1, end);
  if (name !== name.toLowerCase() || !SHELL_COMMANDS.has(name)) return true;
  return Object.hasOwn(HTML_NAMED_ENTITIES, name) || SHELL_ENTITY_COMMANDS.has(name);
}

/** Length of the run of 1–3 capital letters ending before `i` (0 when none, or longer). */
function capitalsBefore(s: string, i: number): number {
  let k = i;
  while (k > 0 && i - k < 4 && isCapital(s.charCodeAt(k - 1))) k--;
  return i - k <= 3 ? i - k : 0;
}

function isCapital(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

/**
 * Whether the `|` at `i` is inside a list of short capitals, at least three long (`N|E|S|W`, `S|M|L|XL`):
 * compass points and sizes, not a pipeline (commands are lower case where case matters).
 */
function isCapitalsList(s: string, i: number): boolean {
  if (s.charCodeAt(i + 1) === 0x7c || s.charCodeAt(i - 1) === 0x7c) return false;
  const before = capitalsBefore(s, i);
  if (before === 0) return false;
  let k = i + 1;
  while (k < s.length && k - i <= 4 && isCapital(s.charCodeAt(k))) k++;
  const after = k - i - 1;
  if (after === 0 || after > 3) return false;
  const next = s.charCodeAt(k);
  if (k < s.length && next !== 0x7c && !isBlank(next) && next !== 0x2c && next !== 0x2e && next !== 0x29) return false;
  const first = i - before;
  const previous = first > 0 ? s.charCodeAt(first - 1) : 0x20;
  if (previous !== 0x7c && !isBlank(previous) && previous !== 0x28 && previous !== 0x3a) return false;
  // A third item on either side.
  return (previous === 0x7c && capitalsBefore(s, first - 1) > 0) || (next === 0x7c && isCapital(s.charCodeAt(k + 1)));
}

/**
 * End of the word at `i` when it needs no quote removal (ASCII, no quote, backslash or `$`), as the
 * character loop in commandAt would end it (a breaking character, or 40 characters); else -1.
 */
function plainWordEnd(s: string, i: number): number {
  const n = s.length;
  let j = i;
  // `/` and `.` are left out of the 40: `//////…/usr/bin/id` and `/./././…/id` name `id` however long the prefix
  // (a word never spans a separator, so each is read from one start).
  let counted = 0;
  for (; j < n && counted < 40; j++) {
    const c = s.charCodeAt(j);
    if (c !== 0x2f && c !== 0x2e) counted++;
    if (isBlank(c) || c === 0x3b || c === 0x7c || c === 0x26 || c === 0x3e || c === 0x3c || c === 0x29 || c === 0x60 || c === 0x7d) break;
    if (c === 0x27 || c === 0x22 || c === 0x5c || c === 0x24 || c >= 0x80) return -1;
  }
  return j === i ? -1 : j;
}

/** `|` and `&` after a separator: more of the operator (`||`, `&&`, `|&`). */
function isOperator(c: number): boolean {
  return c === 0x7c || c === 0x26;
}

/** What may stand before a command word: blanks, and the `(` or `{` of a subshell or group. */
function isLeading(c: number): boolean {
  return isBlank(c) || c === 0x28 || c === 0x7b;
}

/**
 * The end of the run of `member` characters from a position, remembering the last run found: the loop
 * asks from increasing positions, and a position inside that run ends where it ends, so each character
 * is read once per value however many separators share the run.
 */
class SkipRun {
  private from = 0;
  private to = -1;

  constructor(private readonly member: (c: number) => boolean) {}

  end(s: string, i: number): number {
    if (i >= this.from && i <= this.to) return this.to;
    let j = i;
    while (j < s.length && this.member(s.charCodeAt(j))) j++;
    addWork(j - i);
    this.from = i;
    this.to = j;
    return j;
  }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Spaces and tabs from `i` (the blanks between the words of one command). */
function skipSpaces(s: string, i: number): number {
  let k = i;
  while (k < s.length && (s.charCodeAt(k) === 0x20 || s.charCodeAt(k) === 0x09)) k++;
  addWork(k - i);
  return k;
}

/** What ends a word of a command: a blank or an operator. */
function endsWord(c: number): boolean {
  return c < 0x80 && WORD_CHAR[c] === BREAK;
}

/**
 * Where the command a wrapper runs starts (`sudo -u root id`: at `id`), past its options, their values
 * (`valued`: the short options that take one), numbers (`timeout 5`) and assignments (`env A=1`); -1
 * when the command ends first. At most 8 words, none past an operator: each is read from one start.
 */
function wrappedAt(s: string, j: number, valued: string): number {
  const n = s.length;
  let k = j;
  let value = false;
  for (let words = 0; words < 8; words++) {
    const from = k;
    k = skipSpaces(s, k);
    if (k === from || k >= n) return -1;
    const c = s.charCodeAt(k);
    if (endsWord(c)) return -1;
    const option = c === 0x2d;
    if (!option && !value && !(c >= 0x30 && c <= 0x39)) {
      ASSIGNMENT_START.lastIndex = k;
      if (!ASSIGNMENT_START.test(s)) return k;
    }
    value = option && valued.length > 0 && valued.includes(s[k + 1] ?? '') && (k + 2 >= n || endsWord(s.charCodeAt(k + 2)));
    const start = k;
    while (k < n && !endsWord(s.charCodeAt(k))) k++;
    addWork(k - start);
  }
  return -1;
}

/**
 * Whether a command starts at `i` (past the blanks and openers before it). Read STRONG (in a substitution,
 * after a pipe) any known command counts; WEAK (after `;`, `&`, a newline) it must be used like one (see
 * the file comment); CLAUSE (after `if`, `then`…) as WEAK, but a bare separator or the end counts only
 * when the clause goes on with its keyword. Wrappers (`env`, `exec`, `if`…) are read through to the
 * command they run.
 */
function commandAt(s: string, i: number, strength: number, depth: number, context = 0): boolean {
  const n = s.length;
  const first = s.charCodeAt(i);
  // `! cmd` runs cmd; `. file` runs the file in this shell.
  if ((first === 0x21 || first === 0x2e) && (s.charCodeAt(i + 1) === 0x20 || s.charCodeAt(i + 1) === 0x09)) {
    const k = skipSpaces(s, i + 1);
    if (first === 0x21) return depth < MAX_DEPTH && commandAt(s, k, STRONG, depth + 1);
    DOT_SCRIPT.lastIndex = k;
    return DOT_SCRIPT.test(s);
  }
  // Only where a spelling of SHELL_SELF can go on (`$0`, `${`, `$SHELL`, `$BASH`): the regex call cost a third
  // of each separator in a body of `$|$|…` or `$($(…`.
  const second = s.charCodeAt(i + 1);
  if (first === 0x24 && (second === 0x30 || second === 0x7b || second === 0x53 || second === 0x42)) {
    SHELL_SELF.lastIndex = i;
    if (SHELL_SELF.test(s)) return true;
  }
  // Read one shell word, removing the quoting a shell would remove. Most words hold no quoting: those
  // are sliced once (plainWordEnd) instead of being read a character at a time.
  let word = '';
  let obfuscated = false;
  const plainEnd = plainWordEnd(s, i);
  let j = plainEnd;
  // `{id,}`, `{cat,/etc/passwd}`: bash's brace expansion makes the part before the comma the command.
  const brace = s.charCodeAt(i - 1) === 0x7b;
  if (plainEnd >= 0) {
    // Most words after a separator in dense text are no command: a word without `/` whose first letter and
    // length no command has is left without slicing it (a separator every other character cost ~0.2 µs each).
    // Nor an assignment (`a=i`), a versioned interpreter (`python3.11`) or a brace expansion.
    if (!couldBeCommand(first, plainEnd - i) && !brace && !couldBeVersioned(s, i, plainEnd) && !hasSlashOrEquals(s, i, plainEnd)) {
      addWork(plainEnd - i);
      return false;
    }
    word = s.slice(i, plainEnd).toLowerCase();
    // `a=i;b=d;$a$b`: the value is kept for the words after; `A=1 id` runs `id`.
    if (word.includes('=')) {
      ASSIGNMENT_START.lastIndex = i;
      if (!ASSIGNMENT_START.test(s)) return false;
      ASSIGNMENT.lastIndex = i;
      if (ASSIGNED.size < 8 && ASSIGNMENT.test(s)) ASSIGNED.set(s.slice(i, s.indexOf('=', i)), s.slice(s.indexOf('=', i) + 1, plainEnd));
      const k = skipSpaces(s, plainEnd);
      // The word after it stands after a blank, as prose puts a word: `?id=42&view=full Sleep apnea` is a
      // link followed by a sentence, `; A=1 Id` is no command on a case-sensitive system.
      return k > plainEnd && depth < MAX_DEPTH && commandAt(s, k, strength, depth + 1, context | PROSE_AT);
    }
    if (brace) {
      const comma = word.indexOf(',');
      if (comma > 0) {
        word = word.slice(0, comma);
        j = i + comma + 1;
        if (SHELL_COMMANDS.has(word) && (s.charCodeAt(j) === 0x7d || strength === STRONG)) return true;
      }
    }
  } else {
    // Quoted: the unquoted characters go to a buffer, and a string is made only when what follows the
    // last `/` could be a command or the word is a glob path (`$(a$(a…` made a 40-character string at each `$(`).
    let length = 0;
    let slashAt = -1;
    /** Where the last ASCII character that is in no command name (`$`, `(`, `=`) was stored. */
    let strangeAt = -1;
    let joined = 0;
    let inSingle = false;
    let inDouble = false;
    for (j = i; j < n && length < 40; j++) {
      const c = s.charCodeAt(j);
      const kind = c < 0x80 ? WORD_CHAR[c]! : PLAIN; // c < 0x80, the table's length
      if (kind === PLAIN) {
        if (c === 0x2f) {
          // `//` and `/./` name the same directory as `/`: kept once, so a long prefix fills no buffer.
          if (length > 0 && WORD[length - 1] === 0x2f) continue;
          slashAt = length;
        } else if (c === 0x2e && length > 0 && WORD[length - 1] === 0x2f && s.charCodeAt(j + 1) === 0x2f) continue;
        else if (c < 0x80 && !NAME_CHAR[c]) strangeAt = length;
        WORD[length++] = c;
        continue;
      }
      if (kind === BREAK) break;
      if (kind === QUOTE) {
        // After a weak separator, a quote opened that no later one closes is a syntax error to the shell, which
        // then runs nothing: "; I'd like it". (Inside a substitution quoting starts afresh: not judged so.)
        if (c === 0x27 && !inDouble) {
          if (!inSingle && j >= lastSingleQuote && strength !== STRONG) return false;
          inSingle = !inSingle;
        } else if (c === 0x22 && !inSingle) {
          if (!inDouble && j >= lastDoubleQuote && strength !== STRONG) return false;
          inDouble = !inDouble;
        }
        obfuscated = true;
        // A backslash before a newline removes both: `i\⏎d` is `id`. A few times a word: the newline is a
        // separator, and a word read through all of `\⏎\⏎…` at each of them reread the value.
        if (c === 0x5c && s.charCodeAt(j + 1) === 0x0a && joined++ < 4) j++;
        continue;
      }
      if (s.charCodeAt(j + 1) === 0x28) {
        if (s.charCodeAt(j + 2) === 0x29) {
          obfuscated = true; // `who$()ami`: an empty substitution glues the word back together
          j += 2;
          continue;
        }
        // A substitution with a command of its own ends the word read here: that command is read at its
        // own `$(`, and a word read through `$(a$(a…` took 40 characters at every `$(`.
        break;
      }
      if (s.charCodeAt(j + 1) === 0x40 || s.charCodeAt(j + 1) === 0x2a) {
        obfuscated = true;
        j++;
        continue;
      }
      // A variable this value assigned (`a=i;b=d;$a$b`) stands for its value.
      if (ASSIGNED.size > 0) {
        let k = j + 1;
        while (k < n && k - j <= 31 && (NAME_CHAR[s.charCodeAt(k)] === 1 && s.charCodeAt(k) !== 0x2f && s.charCodeAt(k) !== 0x2e && s.charCodeAt(k) !== 0x2d)) k++;
        const value = ASSIGNED.get(s.slice(j + 1, k));
        if (value !== undefined) {
          for (let v = 0; v < value.length && length < 40; v++) WORD[length++] = value.charCodeAt(v);
          obfuscated = true;
          j = k - 1;
          continue;
        }
      }
      strangeAt = length;
      WORD[length++] = c;
    }
    addWork(j - i);
    if (length === 0) return false;
    const glob = WORD[0] === 0x2f && slashAt >= 0;
    if (!glob && (length - slashAt - 1 > LONGEST_COMMAND || strangeAt > slashAt)) return false;
    word = String.fromCharCode.apply(null, WORD.subarray(0, length) as unknown as number[]).toLowerCase();
  }
  if (plainEnd >= 0) addWork(plainEnd - i);
  // `/bin/cat`, `/usr/bin/id`, and globs standing in for a path (`/???/c?t`).
  const slash = word.lastIndexOf('/');
  let base = slash >= 0 ? word.slice(slash + 1) : word;
  if (slash >= 0 && /[?*]/.test(word) && word.startsWith('/')) return true;
  // `python3.11`, `perl5.36`: an interpreter under its versioned name.
  if (isDigit(base.charCodeAt(base.length - 1)) && !SHELL_COMMANDS.has(base)) {
    const name = base.replace(/[\d.]+$/, '');
    if (SHELL_VERSIONED.has(name)) base = name;
  }
  const wrapper = SHELL_WRAPPERS.get(base);
  if (wrapper !== undefined && depth < MAX_DEPTH) {
    const k = wrappedAt(s, j, wrapper.valued);
    const reading = wrapper.reading === 'strong' ? STRONG : wrapper.reading === 'clause' ? CLAUSE : strength;
    if (k >= 0 && commandAt(s, k, reading, depth + 1)) return true;
  }
  // `source` is a word of prose too: it counts only before a script's path ("; source /r/funny" passes).
  if (base === 'source') {
    SOURCED_SCRIPT.lastIndex = skipSpaces(s, j);
    return SOURCED_SCRIPT.lastIndex > j && SOURCED_SCRIPT.test(s);
  }
  // `tar`, `git`, `zip`: only with an option, the way they run another command.
  if (SHELL_OPTION_COMMANDS.has(base)) {
    const k = skipSpaces(s, j);
    return k > j && OPTION_ON_LINE.test(s.slice(k, k + 64).split(/[;\n&|]/, 1)[0] ?? '');
  }
  if (!SHELL_COMMANDS.has(base)) return false;
  // An absolute path names a command only in a folder of programs (`/bin/cat`, `/usr/local/bin/node`,
  // `/proc/self/root/bin/id`): elsewhere it is a page or a file ("/docs/linux/etc/passwd" on a line of its own).
  if (slash >= 0 && word.charCodeAt(0) === 0x2f && !obfuscated && !inProgramFolder(word, slash)) return false;
  if (obfuscated || slash >= 0) return true;
  // Where prose puts a word: a capitalised one ("Sale | Free shipping", "\nCall 555-0100") is no command
  // on a case-sensitive system unless used like one, and a word alone after a spaced separator ("dog & cat",
  // "Books | more") is a phrase unless it tells something run bare (`x & id`) or runs a pipe's input (`| sh`).
  const title = (context & PROSE_AT) !== 0 && plainEnd === j && isTitleWord(s, i, j);
  const k = skipSpaces(s, j);
  if (title || (context & SPACED) !== 0) {
    if (k >= n || isCommandEnd(s.charCodeAt(k))) return SHELL_BARE_COMMANDS.has(base) || ((context & PIPED) !== 0 && SHELL_INPUT_COMMANDS.has(base));
    // A plain number alone is still an argument (`x; Sleep 5` on a case-insensitive file system); "Call 555-0100", "Start 9am" are not.
    if (title) return isDigit(s.charCodeAt(k)) ? plainNumberAlone(s, k) && !SHELL_NUMBER_IS_PROSE.has(base) : titleUsedLikeCommand(s, k);
  }
  if (strength === STRONG && (context & SPACED) === 0) return true;
  // "; at 5 they closed", "Fish & chips | more info inside": a number or words, then more words, is a sentence.
  // So is "curl hair tips" or "python vs java" on a line of its own: the interpreters and network tools are
  // commands wherever they stand, but not before words alone.
  if (strength !== CLAUSE && !SHELL_NUMBER_ACTS.has(base) && proseTail(s, k)) return false;
  if (strength !== CLAUSE && SHELL_STRONG_COMMANDS.has(base)) return true;
  if (strength === STRONG) return true;
  // The rest of the line after the command word: an argument, a redirect, or nothing.
  while (j < n && (s.charCodeAt(j) === 0x20 || s.charCodeAt(j) === 0x09)) j++;
  if (j >= n) return strength === WEAK;
  const c = s.charCodeAt(j);
  if (strength === CLAUSE && (c === 0x3b || c === 0x26 || c === 0x0a || c === 0x0d)) {
    CLAUSE_GOES_ON.lastIndex = j;
    return CLAUSE_GOES_ON.test(s);
  }
  // A word argument followed by a redirect or pipe on the same line: `echo x > /tmp/f`. Within 64
  // characters: further on, a `<`, `>` or `|` belongs to other text (a long comment's "A&W Root Beer
  // … 1 < 2" read `w` as a command).
  if (c === 0x3b || c === 0x7c || c === 0x26 || c === 0x23 || c === 0x0a || c === 0x25) return true;
  if (c >= 0x30 && c <= 0x39 && !SHELL_NUMBER_IS_PROSE.has(base)) return true;
  return usedLikeCommand(s, j, true) || subcommandAt(base, s, j);
}

/** Whether the word at `j` is one of `base`'s own subcommands (SHELL_SUBCOMMANDS), followed by no sentence. */
function subcommandAt(base: string, s: string, j: number): boolean {
  const subcommands = SHELL_SUBCOMMANDS.get(base);
  if (subcommands === undefined) return false;
  let end = j;
  while (end < s.length && end - j < 16 && isLetter(s.charCodeAt(end))) end++;
  if (!subcommands.has(s.slice(j, end).toLowerCase())) return false;
  const k = skipSpaces(s, end);
  return k >= s.length || isCommandEnd(s.charCodeAt(k)) || (k > end && !proseTail(s, k));
}

/**
 * Whether the arguments from `j` (not at the command's end) look like a command's: an option, a path, a
 * variable, a quote, a redirect, a URL or host. `pipe`: a `|` later on the line counts too (`echo x | sh`);
 * after a capitalised word the pipe is read at its own place ("Cat lover | Coffee addict").
 */
function usedLikeCommand(s: string, j: number, pipe: boolean): boolean {
  const c = s.charCodeAt(j);
  // A word argument followed by a redirect or pipe on the same line: `echo x > /tmp/f`. Within 64
  // characters: further on, a `<`, `>` or `|` belongs to other text (a long comment's "A&W Root Beer
  // … 1 < 2" read `w` as a command).
  const line = s.slice(j, j + 64).split(/[;\n&]/, 1)[0] ?? '';
  if ((pipe ? /[<>|]/ : /[<>]/).test(line)) return true;
  return (
    c === 0x2d || c === 0x2f || c === 0x2e || c === 0x7e || c === 0x24 || c === 0x22 || c === 0x27 || c === 0x5c || c === 0x3e || c === 0x3c ||
    /^(https?:|[a-z]:\\|[\w-]+\.[a-z]{2,}|[a-z_][\w-]*:\d)/i.test(s.slice(j, j + 12))
  );
}

/**
 * usedLikeCommand() after a capitalised word, which only a case-insensitive system runs: there a quoted
 * argument counts only when it holds a path, an option or a variable (`Type "C:\boot.ini"`, not
 * `Type "=" to start a formula`), and a `<` glued to the word that a `>` closes round a name is a
 * generic type (`Set<Handler> handlers`, `List<String>`), not a redirect.
 */
function titleUsedLikeCommand(s: string, k: number): boolean {
  const c = s.charCodeAt(k);
  if (c === 0x3c && !isBlank(s.charCodeAt(k - 1))) {
    GENERIC_TYPE.lastIndex = k;
    if (GENERIC_TYPE.test(s)) return false;
  }
  if (c !== 0x22 && c !== 0x27) return usedLikeCommand(s, k, false);
  const line = s.slice(k, k + 64).split(/[;\n&]/, 1)[0] ?? '';
  if (/[<>]/.test(line)) return true;
  QUOTED_ARGUMENT.lastIndex = k + 1;
  return QUOTED_ARGUMENT.test(s);
}

/** `<Name>`, `<Key, Value>` right after a word, then the end or a blank: a generic type's parameters. */
const GENERIC_TYPE = /<[A-Za-z_][\w.]*(?:, ?[A-Za-z_][\w.]*)*>(?=[\s,.;:)]|$)/y;
/** Inside a quote, what an argument of a command is made of: a path, a drive, home, a variable or an option. */
const QUOTED_ARGUMENT = /(?:[\/\\~$.]|[A-Za-z]:[\\/]|--?[A-Za-z])/y;

/** Whether the argument at `k` is digits alone, then the command's end. */
function plainNumberAlone(s: string, k: number): boolean {
  let j = k;
  while (j < s.length && isDigit(s.charCodeAt(j))) j++;
  addWork(j - k);
  j = skipSpaces(s, j);
  return j >= s.length || isCommandEnd(s.charCodeAt(j));
}

/** Whether the word from `i` to `end` is capitalised: an upper-case letter, then only lower-case ones. */
function isTitleWord(s: string, i: number, end: number): boolean {
  if (end - i < 2 || !isCapital(s.charCodeAt(i))) return false;
  for (let k = i + 1; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c < 0x61 || c > 0x7a) return false;
  }
  return true;
}

/** What ends a command's arguments: a separator, a line break, the end of a group or substitution. */
function isCommandEnd(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x3b || c === 0x26 || c === 0x7c || c === 0x29 || c === 0x60;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c >= 0x80;
}

/**
 * Whether the arguments from `k` read as a sentence: an optional leading number ("at 5", "2-day", "10:30",
 * "$30", "20%") and then words of letters (with inner `'` or `-`, trailing punctuation), at least two
 * tokens of which one a word, up to the end of the command; or a price alone ("cut $30": `$3` is an empty
 * parameter to a shell). Options, paths, variables, quotes, redirects, hosts (`10.0.0.1`) and a number
 * after a word (`nc evil 4444`) are no prose. Reads at most 80 characters (a longer sentence is judged on them).
 */
function proseTail(s: string, k: number): boolean {
  const n = s.length;
  const end = Math.min(n, k + 80);
  let tokens = 0;
  let words = 0;
  let price = false;
  let j = k;
  while (j < end) {
    const c = s.charCodeAt(j);
    if (c === 0x20 || c === 0x09) {
      j++;
      continue;
    }
    if (isCommandEnd(c)) break;
    if (isDigit(c) || (c === 0x24 && isDigit(s.charCodeAt(j + 1)))) {
      if (tokens > 0) break;
      price = c === 0x24;
      let dots = 0;
      for (j++; j < n; j++) {
        const d = s.charCodeAt(j);
        if (d === 0x2e) dots++;
        else if (!(isDigit(d) || (d >= 0x61 && d <= 0x7a) || (d >= 0x41 && d <= 0x5a) || d === 0x3a || d === 0x2c || d === 0x25 || d === 0x2f || d === 0x2d)) break;
        if (price && !isDigit(d) && d !== 0x2e && d !== 0x2c) price = false;
      }
      if (dots > 1) break;
    } else if (isLetter(c)) {
      words++;
      for (j++; j < n; j++) {
        const d = s.charCodeAt(j);
        if (isLetter(d) || ((d === 0x27 || d === 0x2d) && isLetter(s.charCodeAt(j + 1)))) continue;
        break;
      }
      while (j < n && (s.charCodeAt(j) === 0x2e || s.charCodeAt(j) === 0x2c || s.charCodeAt(j) === 0x21 || s.charCodeAt(j) === 0x3f || s.charCodeAt(j) === 0x3a)) j++;
    } else break;
    tokens++;
    if (j < n && !isBlank(s.charCodeAt(j)) && !isCommandEnd(s.charCodeAt(j))) break;
  }
  addWork(j - k);
  // Stopped early (a token that is no prose) unless at the end, a line's end or the 80 characters.
  const stopped = j < end && !isBlank(s.charCodeAt(j)) && !isCommandEnd(s.charCodeAt(j));
  if (stopped) return false;
  return (words >= 1 && tokens >= 2) || (tokens === 1 && price);
}

/** The lower-cased word of `$('tr')`, `$("time")` (a quoted word alone in the substitution) at `p`, else null. */
function quotedAlone(s: string, p: number): string | null {
  const quote = s.charCodeAt(p);
  if (quote !== 0x27 && quote !== 0x22) return null;
  let k = p + 1;
  while (k < s.length && k - p <= 16 && isLetter(s.charCodeAt(k)) && s.charCodeAt(k) < 0x80) k++;
  if (k === p + 1 || s.charCodeAt(k) !== quote || s.charCodeAt(k + 1) !== 0x29) return null;
  return s.slice(p + 1, k).toLowerCase();
}

/**
 * Whether the backtick at `i` opens a Markdown code span after punctuation: one or two of `( [ * _ / " '`
 * before it, and before those a blank, a closing backtick (`ls`/`dir`) or the value's start (not for a
 * quote: `"`id`"` is how a substitution breaks out of a quoted argument).
 */
function opensCodeSpan(s: string, i: number): boolean {
  let k = i;
  let quote = false;
  while (k > 0 && i - k < 2) {
    const c = s.charCodeAt(k - 1);
    if (c === 0x22 || c === 0x27) quote = true;
    else if (c !== 0x28 && c !== 0x5b && c !== 0x2a && c !== 0x5f && c !== 0x2f) break;
    k--;
  }
  if (k === i) return false;
  if (k === 0) return !quote;
  const before = s.charCodeAt(k - 1);
  return isBlank(before) || before === 0x60;
}

/**
 * Whether a `|` (or the newline before it) is on a Markdown table row: a line that starts and ends with `|`
 * after its blanks. To a shell a line can't start with a pipe (a syntax error, so nothing on it runs); the
 * first line of the value, which continues the command it is appended to, counts only when the next line
 * starts with `|` too (the pipeline it would continue then breaks there). Lines are judged once each, in
 * increasing order (the loop's order).
 */
class PipeLines {
  /** The next newline at or after `start`, -2 before the first search. */
  private nl = -2;
  private start = 0;
  /** The verdict on the line at `start`: -1 not yet judged. */
  private verdict = -1;

  startsWithPipe(s: string, i: number): boolean {
    if (this.nl === -2) this.nl = s.indexOf('\n');
    while (this.nl >= 0 && this.nl < i) {
      this.start = this.nl + 1;
      this.nl = s.indexOf('\n', this.start);
      this.verdict = -1;
    }
    if (this.verdict < 0) this.verdict = this.judge(s) ? 1 : 0;
    return this.verdict === 1;
  }

  private judge(s: string): boolean {
    const k = skipSpaces(s, this.start);
    if (s.charCodeAt(k) !== 0x7c) return false;
    // A backslash before the newline joins the lines: the `|` then continues the one before.
    if (this.start > 0 && s.charCodeAt(this.start - 2) === 0x5c) return false;
    if (this.start === 0 && this.nl < 0) return false;
    const lineEnd = this.nl < 0 ? s.length : this.nl;
    let e = lineEnd;
    while (e > k && (s.charCodeAt(e - 1) === 0x20 || s.charCodeAt(e - 1) === 0x09 || s.charCodeAt(e - 1) === 0x0d)) e--;
    addWork(lineEnd - e);
    if (e - 1 <= k || s.charCodeAt(e - 1) !== 0x7c) return false;
    return this.start > 0 || s.charCodeAt(skipSpaces(s, this.nl + 1)) === 0x7c;
  }
}

/** Whether the folder of the path `word` (up to its last `/`, at `slash`) is a `bin` or `sbin` folder. */
function inProgramFolder(word: string, slash: number): boolean {
  return word.startsWith('/bin', slash - 4) || word.startsWith('/sbin', slash - 5);
}

/** Whether `s` holds a `/` or `=` from `i` to `end` (a word: never a search to the value's end). */
function hasSlashOrEquals(s: string, i: number, end: number): boolean {
  for (let k = i; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c === 0x2f || c === 0x3d) return true;
  }
  return false;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Whether the word could be a command under a versioned name (`python3.11` → `python`): only words ending in a digit. */
function couldBeVersioned(s: string, i: number, end: number): boolean {
  if (!isDigit(s.charCodeAt(end - 1))) return false;
  let k = end;
  while (k > i && (isDigit(s.charCodeAt(k - 1)) || s.charCodeAt(k - 1) === 0x2e)) k--;
  return couldBeCommand(s.charCodeAt(i), k - i);
}
