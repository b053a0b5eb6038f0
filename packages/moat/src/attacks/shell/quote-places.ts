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
    for (let place = 0; place < PLACES.length; place++) {
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
    addWork(PLACES.length * s.length);
    const newline = { last: -1 };
    for (let place = 0; place < PLACES.length; place++) {
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

/** The state after reading `s[from, to)` from `state`; `newline.last`: the last newline read outside quotes. */
function advance(s: string, from: number, to: number, state: number, newline: { last: number } | null): number {
  let i = from;
  while (i < to && state !== UNFOLLOWED) {
    const c = s.charCodeAt(i);
    if (state === OUTSIDE || state === WORD) {
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
      } else if (c === 0x24 && (s.charCodeAt(i + 1) === 0x28 || s.charCodeAt(i + 1) === 0x7b || s.charCodeAt(i + 1) === 0x27)) state = UNFOLLOWED;
      else if (c === 0x3c && s.charCodeAt(i + 1) === 0x3c) state = UNFOLLOWED;
      else state = startsWord(c) ? WORD : OUTSIDE;
    } else if (state === SINGLE) {
      if (c === 0x27) state = OUTSIDE;
    } else if (state === DOUBLE) {
      if (c === 0x22) state = OUTSIDE;
      else if (c === 0x5c) i++;
      else if (c === 0x60 || (c === 0x24 && (s.charCodeAt(i + 1) === 0x28 || s.charCodeAt(i + 1) === 0x7b))) state = UNFOLLOWED;
    } else if (state === BACKTICK) {
      if (c === 0x60) state = OUTSIDE;
      else if (c === 0x5c) i++;
    } else if (c === 0x0a) {
      state = WORD;
      if (newline !== null) newline.last = i;
    }
    i++;
  }
  reached = state === UNFOLLOWED ? Math.max(i, to) : i;
  return state;
}

/** Whether a word starts after `c` read outside quotes: a blank or an operator character. */
function startsWord(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x3b || c === 0x26 || c === 0x7c || c === 0x28 || c === 0x29 || c === 0x3c || c === 0x3e;
}
