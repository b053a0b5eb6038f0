/**
 * A SQL tokeniser for the few tokens after the point where an input would leave its literal. It reads
 * code the way MySQL, PostgreSQL, SQL Server, Oracle and SQLite agree on: quoted strings (doubled
 * quotes and backslash escapes stay inside), numbers (incl. 0x…), words, operators, `--`/`#` and
 * unterminated `/*` comments (they swallow the rest of the query), while a closed `/* … *\/` counts as
 * whitespace and MySQL's executable `/*!50000 … *\/` contributes its content.
 */
import { addWork } from '../work-counter.js';

export const enum T {
  End,
  Word,
  Number,
  String,
  Op,
  LParen,
  RParen,
  Semi,
  Comma,
  Comment,
  Variable,
}

export interface Token {
  type: T;
  /** Upper-cased word, operator text, or '' for other types. */
  text: string;
  /** Whether whitespace or a comment came right before this token. */
  spaced: boolean;
}

const END: Token = { type: T.End, text: '', spaced: false };

/**
 * How far into the text the tokenisers have read since resetSqlReach(): an exclusive bound on every
 * index read, lookahead included (Infinity once a search ran to the end). Lets a caller that tokenised a
 * decoded *prefix* of a value know whether the answer could depend on what follows the prefix.
 */
let reach = 0;

export function resetSqlReach(): void {
  reach = 0;
}

export function sqlReach(): number {
  return reach;
}

/** Records that the reader looked at `s` up to (not including) `end`. */
export function touchSql(end: number): void {
  if (end > reach) reach = end;
}

export function isSqlSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff || c === 0x3000;
}

export function isSqlWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c > 0x7f;
}

const OPS = ['<=>', '<>', '!=', '<=', '>=', '==', '||', '&&', ':=', '::', '=', '<', '>', '+', '-', '*', '/', '%', '|', '&', '^', '!', '~'];

/** Reads tokens of `s` from `start`, at most `max` of them (the detectors need only a handful). */
export class SqlTokens {
  private i: number;
  private readonly s: string;
  private left: number;
  /**
   * Of the last string token: whether the value ended inside it (the app's own quote closes it), whether
   * it is empty, and whether it starts as prose (white space, then a letter: `" button not working`).
   */
  open = false;
  empty = false;
  prose = false;
  private stringStart = 0;
  private stringEnd = 0;

  constructor(s: string, start: number, max = 16) {
    this.s = s;
    this.i = start;
    this.left = max;
  }

  /** Position of the next unread character. */
  get position(): number {
    return this.i;
  }

  next(): Token {
    const s = this.s;
    const n = s.length;
    let spaced = false;
    if (this.left-- <= 0) return END;
    for (;;) {
      while (this.i < n && isSqlSpace(s.charCodeAt(this.i))) {
        this.i++;
        spaced = true;
      }
      if (this.i >= n) {
        // The text ran out: in a prefix, more text would have been read here.
        reach = Infinity;
        return END;
      }
      const c = s.charCodeAt(this.i);
      if (c === 0x2f && s.charCodeAt(this.i + 1) === 0x2a) {
        const close = s.indexOf('*/', this.i + 2);
        if (s.charCodeAt(this.i + 2) === 0x21) {
          // MySQL executable comment: skip `/*!` and an optional version number, read the content.
          this.i += 3;
          while (this.i < n && s.charCodeAt(this.i) >= 0x30 && s.charCodeAt(this.i) <= 0x39) this.i++;
          spaced = true;
          continue;
        }
        if (close < 0) return this.token(T.Comment, '/*', spaced, n);
        addWork(close - this.i);
        this.i = close + 2;
        spaced = true;
        continue;
      }
      if (c === 0x2a && s.charCodeAt(this.i + 1) === 0x2f) {
        // The end of an executable comment we entered: whitespace.
        this.i += 2;
        spaced = true;
        continue;
      }
      break;
    }
    const c = s.charCodeAt(this.i);
    const start = this.i;
    if (c === 0x23) return this.token(T.Comment, '#', spaced, n);
    if (c === 0x2d && s.charCodeAt(start + 1) === 0x2d) return this.token(T.Comment, '--', spaced, n);
    if (c === 0x3b) return this.token(T.Semi, ';', spaced, start + 1);
    if (c === 0x2c) return this.token(T.Comma, ',', spaced, start + 1);
    if (c === 0x28) return this.token(T.LParen, '(', spaced, start + 1);
    if (c === 0x29) return this.token(T.RParen, ')', spaced, start + 1);
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      let j = start + 1;
      while (j < n) {
        const d = s.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === c) {
          if (s.charCodeAt(j + 1) === c) j += 2;
          else break;
        } else j++;
      }
      if (c !== 0x60) {
        this.open = j >= n;
        this.empty = j === start + 1 || start + 1 >= n;
        const d = s.charCodeAt(start + 2) | 0x20;
        this.prose = isSqlSpace(s.charCodeAt(start + 1)) && d >= 0x61 && d <= 0x7a && start + 2 < Math.min(j, n);
        this.stringStart = start + 1;
        this.stringEnd = Math.min(j, n);
      }
      // A backquoted name is a word, not a value.
      return this.token(c === 0x60 ? T.Word : T.String, c === 0x60 ? s.slice(start + 1, Math.min(j, n)).toUpperCase() : '', spaced, Math.min(j + 1, n));
    }
    if (c === 0x40) {
      let j = start + 1;
      while (j < n && (isSqlWordChar(s.charCodeAt(j)) || s.charCodeAt(j) === 0x40)) j++;
      return this.token(T.Variable, s.slice(start, j).toUpperCase(), spaced, j);
    }
    if ((c >= 0x30 && c <= 0x39) || (c === 0x2e && s.charCodeAt(start + 1) >= 0x30 && s.charCodeAt(start + 1) <= 0x39)) {
      let j = start + 1;
      if (c === 0x30 && (s.charCodeAt(j) | 0x20) === 0x78) j++;
      while (j < n) {
        const d = s.charCodeAt(j);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || ((d | 0x20) >= 0x61 && (d | 0x20) <= 0x66)) j++;
        else break;
      }
      // `90s`, `3rd`: a word glued to digits is a word (prose), not a number.
      if (j < n && isSqlWordChar(s.charCodeAt(j))) {
        while (j < n && isSqlWordChar(s.charCodeAt(j))) j++;
        return this.token(T.Word, s.slice(start, j).toUpperCase(), spaced, j);
      }
      return this.token(T.Number, '', spaced, j);
    }
    if (isSqlWordChar(c)) {
      let j = start + 1;
      while (j < n && (isSqlWordChar(s.charCodeAt(j)) || (s.charCodeAt(j) === 0x2e && isSqlWordChar(s.charCodeAt(j + 1))))) j++;
      return this.token(T.Word, s.slice(start, j).toUpperCase(), spaced, j);
    }
    for (const op of OPS) if (s.startsWith(op, start)) return this.token(T.Op, op, spaced, start + op.length);
    return this.token(T.Op, s.charAt(start), spaced, start + 1);
  }

  /** Whether the last string token holds a LIKE or GLOB wildcard (`%`, `_`, `*`, `?`, `[`). */
  wildcard(): boolean {
    const s = this.s;
    addWork(this.stringEnd - this.stringStart);
    for (let i = this.stringStart; i < this.stringEnd; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x25 || c === 0x5f || c === 0x2a || c === 0x3f || c === 0x5b) return true;
    }
    return false;
  }

  private token(type: T, text: string, spaced: boolean, end: number): Token {
    addWork(end - this.i + 1);
    // Up to three characters past a token are looked at (`/*!`, `<=>`, a doubled quote).
    if (end + 3 > reach) reach = end + 3;
    this.i = end;
    return { type, text, spaced };
  }
}
