/**
 * Whether a command after a separator could run at all, judged from the quotes of the whole value.
 *
 * A POSIX shell (what Node's `child_process.exec` runs on Linux and macOS) parses a complete command, up
 * to a newline read outside quotes, before running any of it: a quote it never closes is a syntax error,
 * and nothing on that line runs (`sh -c "echo hi; echo it's"` prints nothing). An app puts the value in
 * one of three places on its command line: bare, inside '…' or inside "…", where its own quote follows
 * the value. A separator at `p` runs a command in a place when the shell reads it outside quotes there,
 * and that line parses: a newline read outside quotes follows it in the value, or the value ends where
 * the place's quote closes it (outside quotes when bare, or inside a comment, which swallows the rest).
 * Bare is two places: right after a blank (`cmd ${v}`, where a leading `#` opens a comment) and inside a
 * word (`cmd --x=${v}`, where it does not). `#` opens a comment only where a word starts: after an
 * unquoted blank, separator or newline, never after an escaped one (`\ #` is a word).
 *
 * So a long post where `; find 3 sizes` is followed, sentences later, by one apostrophe (`it's`) runs
 * nothing in any place; `; cat /etc/passwd #it's` and `'; cat /etc/passwd; echo '` still do. A backtick
 * substitution outside quotes is read as a quote of its own (an unclosed one is a syntax error too).
 * Where a place meets a shape this reading does not follow (`$(…)` and `${…}`, whose quotes nest; a
 * backtick inside "…"; here-documents; `$'…'`), a separator read outside quotes before it, and any after
 * it, may run there. On Windows `cmd.exe` runs commands and ignores `'`: always "may run" there.
 */
import { addWork } from '../work-counter.js';

/** Outside quotes, inside a word (or right after a quote closed): a `#` here is an ordinary character. */
const OUTSIDE = 0;
const SINGLE = 1;
const DOUBLE = 2;
const COMMENT = 3;
const BACKTICK = 4;
/** A shape not followed (see above): stays to the end. */
const UNFOLLOWED = 5;
/** Outside quotes where a word starts: a `#` here opens a comment. */
const WORD = 6;

/** The places, by the state the value starts in: bare inside a word, inside '…', inside "…", bare after a blank. */
const PLACES = [OUTSIDE, SINGLE, DOUBLE, WORD];

/** Quote parsing as sh does it only applies where sh runs the app's commands. */
const POSIX_SHELL = process.platform !== 'win32';

function outside(state: number): boolean {
  return state === OUTSIDE || state === WORD;
}

/** Whether the value may end in `end` in a place that started in `start`: the place's own quote closes it, or a comment or an unfollowed shape swallows it. */
function endsWell(start: number, end: number): boolean {
  if (end === COMMENT || end === UNFOLLOWED) return true;
  return outside(start) ? outside(end) : end === start;
}

/**
 * What a place's reading says about a separator at a position: outside quotes (it may run, if its line
 * parses), held (inside quotes or a comment, or escaped by a backslash: not a separator there), or runs
 * (inside a backtick substitution or past a shape not followed: it may run whatever follows).
 */
const FREE = 0;
const HELD = 1;
const RUNS = 2;

/** FREE, HELD or RUNS by state. */
const HELDNESS = Uint8Array.of(FREE, HELD, HELD, HELD, RUNS, RUNS, FREE);

/**
 * Where a place's reading changes between FREE, HELD and RUNS: positions (the reading before `s[at]`) and
 * what holds from there on. Recorded in the one pass to the value's end that prepare() makes anyway, so a
 * separator is looked up, not read up to: reading up to each separator one character at a time was a
 * sixth of a dense form body's detection (bench "dense look-alikes"). The lists stay with the reader for
 * the next value, unless one grew past RETAINED entries.
 */
class Turns {
  /** Per entry: the position times 4, plus FREE, HELD or RUNS. */
  entries = new Int32Array(64);
  count = 0;
  /** The entry the last lookup ended on: separators are asked about in order. */
  cursor = 0;

  clear(): void {
    if (this.entries.length > RETAINED) this.entries = new Int32Array(64);
    this.count = 0;
    this.cursor = 0;
  }

  /** Adds an entry; the caller adds one only where the kind changes. */
  add(at: number, kind: number): void {
    if (this.count === this.entries.length) {
      const grown = new Int32Array(this.count * 2);
      grown.set(this.entries);
      this.entries = grown;
    }
    this.entries[this.count++] = at * 4 + kind;
  }

  /** FREE, HELD or RUNS at `p` (the first entry is at 0). */
  kindAt(p: number): number {
    const entries = this.entries;
    const key = p * 4 + 3;
    const last = this.count - 1;
    let k = this.cursor;
    if (entries[k]! > key) {
      // Asked out of order: the last entry at or before `p`, by halving.
      let high = k - 1;
      k = 0;
      while (k < high) {
        const mid = (k + high + 1) >> 1;
        if (entries[mid]! <= key) k = mid;
        else high = mid - 1;
      }
    }
    while (k < last && entries[k + 1]! <= key) k++;
    this.cursor = k;
    return entries[k]! & 3;
  }
}

/** Entries a place keeps between values (at most 512 KiB across the four places: a 64 KiB value with a quote every few characters); a longer list is dropped after use. */
const RETAINED = 1 << 15;

export class QuotePlaces {
  private s = '';
  private prepared = false;
  /** Not a POSIX shell: every separator may run. */
  private unknown = false;
  /** Places read (the last, bare after a blank, only when it may differ from bare inside a word). */
  private places = PLACES.length;
  /** Per place: the state at the value's end, the last newline read outside quotes, and where the reading turns. */
  private readonly endState = new Uint8Array(PLACES.length);
  private readonly lastNewline = new Int32Array(PLACES.length);
  private readonly turns = PLACES.map(() => new Turns());

  /** Starts on a new value (nothing is read until a separator is asked about). */
  reset(s: string): void {
    this.s = s;
    this.prepared = false;
  }

  /** Whether a command after the separator at `p` could run in one of the places. */
  mayRunAt(p: number): boolean {
    if (!this.prepared) this.prepare();
    if (this.unknown) return true;
    for (let place = 0; place < this.places; place++) {
      const kind = this.turns[place]!.kindAt(p);
      // Inside a backtick substitution a separator runs a command of its own script.
      if (kind === RUNS) return true;
      if (kind === HELD) continue;
      if (this.lastNewline[place]! > p || endsWell(PLACES[place]!, this.endState[place]!)) return true;
    }
    return false;
  }

  private prepare(): void {
    this.prepared = true;
    const s = this.s;
    this.unknown = !POSIX_SHELL;
    if (this.unknown) return;
    // Bare inside a word and bare after a blank differ only at a `#`, a quote or another turn: from a first
    // character that is none, both read alike to the end, and the second is not read.
    const first = s.charCodeAt(0);
    this.places = s.length > 0 && (first >= 0x80 || OUTSIDE_NEXT[first] !== TURN) ? PLACES.length - 1 : PLACES.length;
    addWork(this.places * s.length);
    const newline = { last: -1 };
    for (let place = 0; place < this.places; place++) {
      newline.last = -1;
      const turns = this.turns[place]!;
      turns.clear();
      this.endState[place] = read(s, PLACES[place]!, newline, turns);
      // A backslash at the very end quotes the app's own next character (its closing quote): not followed.
      if (reached > s.length) this.endState[place] = UNFOLLOWED;
      this.lastNewline[place] = newline.last;
    }
  }
}

/** Where read() stopped: the end, or one past it when the last character was a backslash. */
let reached = 0;

/**
 * What each ASCII character does to the state outside quotes: OUTSIDE or WORD (the state after it), or
 * TURN for those that may change it otherwise (quotes, backslash, newline, `#`, `$`, `<`). Runs of the
 * first two are skipped by a native search for the next turn.
 */
const TURN = 255;
const OUTSIDE_NEXT = (() => {
  const table = new Uint8Array(0x80).fill(OUTSIDE);
  for (const c of [0x20, 0x09, 0x3b, 0x26, 0x7c, 0x28, 0x29, 0x3e]) table[c] = WORD;
  for (const c of [0x27, 0x22, 0x60, 0x5c, 0x0a, 0x23, 0x24, 0x3c]) table[c] = TURN;
  return table;
})();

/** The characters OUTSIDE_NEXT marks TURN, and those that count inside "…". */
const NEXT_TURN = /['"`\\\n#$<]/g;
const NEXT_IN_DOUBLE = /["\\`$]/g;

/**
 * The state after reading all of `s` from `state`; `newline.last`: the last newline read outside quotes;
 * `turns`: where the reading turns between FREE, HELD and RUNS.
 */
function read(s: string, state: number, newline: { last: number }, turns: Turns): number {
  const to = s.length;
  let i = 0;
  let kind = HELDNESS[state]!;
  turns.add(0, kind);
  while (i < to && state !== UNFOLLOWED) {
    let c = s.charCodeAt(i);
    if (state === OUTSIDE || state === WORD) {
      // A run of characters that only start or continue words, found by a native search for the next
      // turn; the state is then set by the character before it.
      if ((c < 0x80 ? OUTSIDE_NEXT[c]! : OUTSIDE) !== TURN) {
        NEXT_TURN.lastIndex = i;
        const at = NEXT_TURN.test(s) ? NEXT_TURN.lastIndex - 1 : to;
        const before = s.charCodeAt(at - 1);
        state = before < 0x80 ? OUTSIDE_NEXT[before]! : OUTSIDE;
        i = at;
        if (i >= to) break;
        c = s.charCodeAt(i);
      }
      if (c === 0x27) state = SINGLE;
      else if (c === 0x22) state = DOUBLE;
      else if (c === 0x60) state = BACKTICK;
      else if (c === 0x5c) {
        // A backslash quotes the next character, which then belongs to a word; before a newline both
        // vanish (the line goes on) and the word's state stays as it was. Either way that character is
        // no separator.
        if (s.charCodeAt(i + 1) !== 0x0a) state = OUTSIDE;
        turns.add(++i, kind = HELD);
      } else if (c === 0x0a) {
        state = WORD;
        newline.last = i;
      } else if (c === 0x23) {
        if (state === WORD) state = COMMENT;
      } else if (c === 0x24) {
        const after = s.charCodeAt(i + 1);
        state = after === 0x28 || after === 0x7b || after === 0x27 ? UNFOLLOWED : OUTSIDE;
      } else state = s.charCodeAt(i + 1) === 0x3c ? UNFOLLOWED : WORD; // `<`: a here-document, or a redirection
    } else if (state === SINGLE) {
      // Nothing but the closing quote counts inside '…'.
      i = indexOrEnd(s, "'", i);
      if (i >= to) break;
      state = OUTSIDE;
    } else if (state === DOUBLE) {
      NEXT_IN_DOUBLE.lastIndex = i;
      i = NEXT_IN_DOUBLE.test(s) ? NEXT_IN_DOUBLE.lastIndex - 1 : to;
      if (i >= to) break;
      c = s.charCodeAt(i);
      if (c === 0x22) state = OUTSIDE;
      else if (c === 0x5c) i++;
      else if (c === 0x60 || s.charCodeAt(i + 1) === 0x28 || s.charCodeAt(i + 1) === 0x7b) state = UNFOLLOWED;
    } else if (state === BACKTICK) {
      if (c === 0x60) state = OUTSIDE;
      else if (c === 0x5c) i++;
    } else {
      // A comment, to the next newline.
      i = indexOrEnd(s, '\n', i);
      if (i >= to) break;
      state = WORD;
      newline.last = i;
    }
    i++;
    if (HELDNESS[state] !== kind) turns.add(i, kind = HELDNESS[state]!);
  }
  reached = i;
  return state;
}

/** The first `c` at or after `i`, or the end of `s`. */
function indexOrEnd(s: string, c: string, i: number): number {
  const at = s.indexOf(c, i);
  return at < 0 ? s.length : at;
}
