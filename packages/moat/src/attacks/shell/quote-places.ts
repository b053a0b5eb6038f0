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

export class QuotePlaces {
  private s = '';
  private prepared = false;
  /** Not a POSIX shell: every separator may run. */
  private unknown = false;
  /** Places read (the last, bare after a blank, only when it may differ from bare inside a word). */
  private places = PLACES.length;
  /** Per place: the state at the value's end, and the last newline read outside quotes. */
  private readonly endState = new Uint8Array(PLACES.length);
  private readonly lastNewline = new Int32Array(PLACES.length);
  /** Per place: the state before `s[position[place]]`, advanced as separators are asked about in order. */
  private readonly state = new Uint8Array(PLACES.length);
  private readonly position = new Int32Array(PLACES.length);

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
      if (p < this.position[place]!) {
        // Asked out of order, or `p` was read as an escaped character (`\;` is no separator): from the start.
        this.state[place] = PLACES[place]!;
        this.position[place] = 0;
      }
      this.state[place] = advance(this.s, this.position[place]!, p, this.state[place]!, null);
      this.position[place] = reached;
      const state = this.state[place]!;
      // Inside a backtick substitution a separator runs a command of its own script.
      if (state === UNFOLLOWED || state === BACKTICK) return true;
      // Read past `p`: a backslash before it made it an ordinary character in this place.
      if (reached > p || !outside(state)) continue;
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
      this.endState[place] = advance(s, 0, s.length, PLACES[place]!, newline);
      // A backslash at the very end quotes the app's own next character (its closing quote): not followed.
      if (reached > s.length) this.endState[place] = UNFOLLOWED;
      this.lastNewline[place] = newline.last;
      this.state[place] = PLACES[place]!;
      this.position[place] = 0;
    }
  }
}

/** Where advance() stopped: `to`, or one past it when its last character quoted the one at `to`. */
let reached = 0;

/**
 * What each ASCII character does to the state outside quotes: OUTSIDE or WORD (the state after it), or
 * TURN for those that may change it otherwise (quotes, backslash, newline, `#`, `$`, `<`). Runs of the
 * first two are read in a tight loop: one character at a time through the whole branch chain cost ~6 ns
 * each, four times over a 4 KiB field, most of a dense form body's detection (bench "dense look-alikes").
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

/** The state after reading `s[from, to)` from `state`; `newline.last`: the last newline read outside quotes. */
function advance(s: string, from: number, to: number, state: number, newline: { last: number } | null): number {
  let i = from;
  while (i < to && state !== UNFOLLOWED) {
    let c = s.charCodeAt(i);
    if (state === OUTSIDE || state === WORD) {
      // A run of characters that only start or continue words: to the end (prepare's passes) found by a
      // native search for the next turn, the state then set by the character before it; else read here.
      let next = c < 0x80 ? OUTSIDE_NEXT[c]! : OUTSIDE;
      if (next !== TURN && to === s.length) {
        NEXT_TURN.lastIndex = i;
        const at = NEXT_TURN.test(s) ? NEXT_TURN.lastIndex - 1 : to;
        const before = s.charCodeAt(at - 1);
        state = before < 0x80 ? OUTSIDE_NEXT[before]! : OUTSIDE;
        i = at;
        if (i >= to) break;
        c = s.charCodeAt(i);
      } else {
        while (next !== TURN) {
          state = next;
          if (++i >= to) break;
          c = s.charCodeAt(i);
          next = c < 0x80 ? OUTSIDE_NEXT[c]! : OUTSIDE;
        }
        if (i >= to) break;
      }
      if (c === 0x27) state = SINGLE;
      else if (c === 0x22) state = DOUBLE;
      else if (c === 0x60) state = BACKTICK;
      else if (c === 0x5c) {
        // A backslash quotes the next character, which then belongs to a word; before a newline both
        // vanish (the line goes on) and the word's state stays as it was.
        if (s.charCodeAt(i + 1) !== 0x0a) state = OUTSIDE;
        i++;
      } else if (c === 0x0a) {
        state = WORD;
        if (newline !== null) newline.last = i;
      } else if (c === 0x23) {
        if (state === WORD) state = COMMENT;
      } else if (c === 0x24) {
        const after = s.charCodeAt(i + 1);
        state = after === 0x28 || after === 0x7b || after === 0x27 ? UNFOLLOWED : OUTSIDE;
      } else state = s.charCodeAt(i + 1) === 0x3c ? UNFOLLOWED : WORD; // `<`: a here-document, or a redirection
    } else if (state === SINGLE) {
      // Nothing but the closing quote counts inside '…'. To the end (prepare's passes), a native search.
      i = to === s.length ? indexOrEnd(s, "'", i) : skipTo(s, 0x27, i, to);
      if (i >= to) break;
      state = OUTSIDE;
    } else if (state === DOUBLE) {
      if (to === s.length) {
        NEXT_IN_DOUBLE.lastIndex = i;
        i = NEXT_IN_DOUBLE.test(s) ? NEXT_IN_DOUBLE.lastIndex - 1 : to;
        if (i >= to) break;
        c = s.charCodeAt(i);
      } else {
        while (i < to && (c = s.charCodeAt(i)) !== 0x22 && c !== 0x5c && c !== 0x60 && c !== 0x24) i++;
        if (i >= to) break;
      }
      if (c === 0x22) state = OUTSIDE;
      else if (c === 0x5c) i++;
      else if (c === 0x60 || s.charCodeAt(i + 1) === 0x28 || s.charCodeAt(i + 1) === 0x7b) state = UNFOLLOWED;
    } else if (state === BACKTICK) {
      if (c === 0x60) state = OUTSIDE;
      else if (c === 0x5c) i++;
    } else {
      // A comment, to the next newline.
      i = to === s.length ? indexOrEnd(s, '\n', i) : skipTo(s, 0x0a, i, to);
      if (i >= to) break;
      state = WORD;
      if (newline !== null) newline.last = i;
    }
    i++;
  }
  reached = state === UNFOLLOWED ? Math.max(i, to) : i;
  return state;
}

/** The first `c` in `s[i, to)`, or `to`. */
function skipTo(s: string, c: number, i: number, to: number): number {
  while (i < to && s.charCodeAt(i) !== c) i++;
  return i;
}

/** The first `c` at or after `i`, or the end of `s`. */
function indexOrEnd(s: string, c: string, i: number): number {
  const at = s.indexOf(c, i);
  return at < 0 ? s.length : at;
}
