/**
 * SQL injection by structure. An input lands either inside a quoted literal ('…' or "…") or in a
 * numeric slot. For each context the value can be in, we find where it would leave that context (its
 * first unescaped quote, or the end of its leading number) and read the next tokens as SQL: an attack
 * continues the statement — `OR` with a complete operand, `UNION SELECT`, a comparison, `;` and a new
 * statement, a comment cutting the query, a delay function. Prose leaves the literal into a plain word
 * ("O'Brien" → `Brien`), which no query grammar continues, so it passes whatever words follow later.
 */
import { F_BACKTICK, F_NUMERIC_START, F_QUOTE, F_SEMI } from '../features.js';
import type { Finding } from '../types.js';
import { SQL_ATTACK_FUNCTIONS, SQL_CLAUSES, SQL_CONSTANTS, SQL_FUNCTIONS, SQL_LOGIC, SQL_VALUE_STARTERS, SQL_WORD_OPERATORS } from '../words/sql.js';
import { addWork } from '../work-counter.js';
import { SqlTokens, T, isSqlSpace, isSqlWordChar, resetSqlReach, sqlReach, touchSql, type Token } from './sql-tokens.js';

const COMPARISON = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', '==', '<=>']);
const ARITHMETIC = new Set(['+', '-', '*', '/', '%', '|', '&', '^', '||', '&&', '::']);

export const SQLI_FEATURES = F_QUOTE | F_NUMERIC_START | F_SEMI | F_BACKTICK;

export function detectSqli(s: string): Finding | null {
  return inLiteral(s, 0x27) ?? inLiteral(s, 0x22) ?? inNumber(s) ?? inIdentifier(s);
}

/**
 * detectSqli()'s contexts read from a window of a longer text, for a caller that decodes windows
 * instead of a whole value (raw-form-field.ts). Each answers `undefined` when the answer could depend
 * on what lies past the window's end (a read reached it), else exactly what detectSqli's context gives.
 * sqlLiteralInWindow: `window` starts at the text's first `q` quote, and the text holds no backslash
 * (the quote's escape check reads the character before it). sqlNumberInWindow: `window` starts where
 * the text starts. `last`: the window reaches the text's end, so whatever it reads is the answer.
 */
export function sqlLiteralInWindow(window: string, last: boolean, q: 0x27 | 0x22): Finding | null | undefined {
  resetSqlReach();
  // The window has no text before its quote, which proseMarker() reads: it is not asked, so the window
  // flags what a whole read may clear (the field is then decoded and read whole), never the reverse.
  inWindow = true;
  let hit: Finding | null;
  try {
    hit = inLiteral(window, q);
  } finally {
    inWindow = false;
  }
  return last || sqlReach() <= window.length ? hit : undefined;
}

export function sqlNumberInWindow(window: string, last: boolean): Finding | null | undefined {
  resetSqlReach();
  const hit = inNumber(window);
  return last || sqlReach() <= window.length ? hit : undefined;
}

/**
 * The value placed in a literal quoted by `q`: what follows the quote that would close it. Read twice
 * when a backslash stands before a quote: MySQL's way (an odd run of backslashes escapes the quote) and
 * the standard way of SQLite, PostgreSQL, SQL Server and Oracle (a backslash is a character like any
 * other); the app's database is unknown, so an attack under either reading is one.
 */
function inLiteral(s: string, q: number): Finding | null {
  const at = firstClosingQuote(s, q, true);
  const escaped = backslashEscaped;
  if (at >= 0 && (inWindow || !proseMarker(s, at, q))) {
    const r = afterLeaving(s, at + 1, false);
    if (r) return { at, reason: r };
  }
  return escaped ? inLiteralPlain(s, q, at) : null;
}

/** inLiteral() read the standard way, where a backslash escapes nothing, when that reading differs from MySQL's (`at`). */
function inLiteralPlain(s: string, q: number, at: number): Finding | null {
  const plain = firstClosingQuote(s, q, false);
  if (plain >= 0 && plain !== at && (inWindow || !proseMarker(s, plain, q))) {
    const r = afterLeaving(s, plain + 1, false);
    if (r) return { at: plain, reason: r };
  }
  return null;
}

/** Set while sqlLiteralInWindow() reads: the window starts at the quote. */
let inWindow = false;

/**
 * Whether the quote at `at`, then `#` or `--`, is punctuation in prose rather than a literal's end with
 * the rest of the query commented out (`admin'#`, `admin' -- -`, `'--`): an opening quotation mark (at
 * the start or after white space) glued to a hashtag or a flag (`"#1 best seller"`, `'#ad'`, `"--force"`)
 * or to a marker quoted alone before prose (`Press "#" to return`); a plural possessive or an inch mark,
 * then white space and a hashtag or a dash between words (`Parents' #1 choice`, `teachers' -- not`,
 * `12" -- perfect`). The literal closed there is then empty or ends in white space (no user is named),
 * or ends a word in `s` or a number.
 */
function proseMarker(s: string, at: number, q: number): boolean {
  let i = at + 1;
  while (i < s.length && isSqlSpace(s.charCodeAt(i))) i++;
  const spaced = i > at + 1;
  const c = s.charCodeAt(i);
  let m: number;
  if (c === 0x23) m = i + 1;
  else if (c === 0x2d && s.charCodeAt(i + 1) === 0x2d) m = i + 2;
  else return false;
  touchSql(m + 3);
  addWork(m - at);
  const d = s.charCodeAt(m);
  const word = isDigit(d) || isWordStart(d);
  const before = at > 0 ? s.charCodeAt(at - 1) : 0x20;
  if (!spaced) {
    if (!isSqlSpace(before)) return false;
    return word || (d === q && isSqlSpace(s.charCodeAt(m + 1)) && isWordStart(s.charCodeAt(m + 2)));
  }
  const possessive = q === 0x27 && (before | 0x20) === 0x73 && at > 1 && isWordStart(s.charCodeAt(at - 2));
  if (!possessive && !(q === 0x22 && isDigit(before))) return false;
  return c === 0x23 ? word : isSqlSpace(d) && isWordStart(s.charCodeAt(m + 1));
}

/**
 * The value placed in a backquoted name (MySQL, SQLite: a column picked by a sort or select
 * parameter): after its closing backtick, `FROM <table>` is what the query had anyway, so the reading
 * goes on after it.
 */
function inIdentifier(s: string): Finding | null {
  const at = s.indexOf('`');
  if (at < 0) return null;
  touchSql(at + 2);
  if (s.charCodeAt(at + 1) === 0x60) return null;
  const tokens = new SqlTokens(s, at + 1);
  let t = tokens.next();
  if (t.type === T.Word && t.text === 'FROM') {
    if (tokens.next().type !== T.Word) return null;
    t = tokens.next();
    // `name` FROM users` is a name that happens to read that way; only a clause after the table counts.
    if (t.type !== T.Word || !SQL_CLAUSES.has(t.text)) return null;
  }
  // Markdown opens code with a backtick (`<div>`, `x = 1`, `# heading`): after a name's closing one,
  // only a word (a clause, `OR`) or `;` is read.
  if (t.type !== T.Word && t.type !== T.Semi) return null;
  const r = afterToken(t, tokens, false);
  return r ? { at, reason: r } : null;
}

/** The value placed in a numeric slot: what follows its leading number (or `NULL`), or a subquery in its place. */
function inNumber(s: string): Finding | null {
  const numberEnd = leadingNumberEnd(s);
  if (numberEnd >= 0) {
    const r = afterLeaving(s, numberEnd, true);
    return r ? { at: numberEnd, reason: r } : null;
  }
  if (numberEnd === SUBQUERY) {
    // `(SELECT unicode(password) FROM users …)-64` in a LIMIT, `(CASE WHEN (SELECT …)=65 THEN name …)` in
    // an ORDER BY: where a number or a column goes, a subquery reads data ("(select all that apply)" does not read as one).
    const tokens = new SqlTokens(s, 0);
    let t = tokens.next();
    while (t.type === T.LParen) t = tokens.next();
    if (t.text === 'SELECT' ? selectFrom(tokens) : tokens.next().text === 'WHEN' && operand(tokens, true)) return { at: 0, reason: `${t.text} subquery in a numeric slot` };
  }
  return null;
}

/**
 * Index of the quote that would end a literal the value was placed in, or -1. `backslash`: MySQL's
 * reading, where a quote after an odd run of backslashes is escaped (`\\'` is an escaped backslash,
 * then the closing quote); backslashEscaped tells whether a quote was skipped that way, so the caller
 * knows the standard reading differs.
 */
function firstClosingQuote(s: string, q: number, backslash: boolean): number {
  const qs = q === 0x27 ? "'" : '"';
  let i = s.indexOf(qs);
  backslashEscaped = false;
  while (i >= 0) {
    // `''` inside a literal is an escaped quote, and so is `\'` for MySQL; neither ends the string.
    if (s.charCodeAt(i + 1) === q) {
      i = s.indexOf(qs, i + 2);
      continue;
    }
    if (backslash && i > 0 && s.charCodeAt(i - 1) === 0x5c) {
      let j = i - 1;
      while (j > 0 && s.charCodeAt(j - 1) === 0x5c) j--;
      addWork(i - j);
      if ((i - j) % 2 === 1) {
        backslashEscaped = true;
        i = s.indexOf(qs, i + 1);
        continue;
      }
    }
    touchSql(i + 2);
    return i;
  }
  // Searched to the end.
  touchSql(Infinity);
  return -1;
}

/** Set by firstClosingQuote(): whether it passed over a quote escaped by a backslash. */
let backslashEscaped = false;

/** leadingNumberEnd(): the value starts with `(SELECT` or `(CASE`. */
const SUBQUERY = -2;

/**
 * End of the number a numeric slot's value starts with, after `(`, signs, `~` and white space: a full
 * literal (`1.0`, `1e0`, `0x1f`) or `NULL`. -1 when it does not start with one, SUBQUERY for `(SELECT`
 * and `(CASE`.
 */
function leadingNumberEnd(s: string): number {
  const n = s.length;
  let i = 0;
  let paren = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x28) paren = true;
    else if (c !== 0x2d && c !== 0x2b && c !== 0x7e && !isSqlSpace(c)) break;
  }
  const start = i;
  const c = s.charCodeAt(i);
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) {
    while (i < n && isWordStart(s.charCodeAt(i))) i++;
    touchSql(i + 1);
    if (i < n && isSqlWordChar(s.charCodeAt(i))) return -1;
    const w = i - start;
    if (w === 4 && s.slice(start, i).toUpperCase() === 'NULL') return i;
    if (paren && (w === 6 || w === 4) && /^(?:select|case)$/i.test(s.slice(start, i))) return SUBQUERY;
    return -1;
  }
  if (c === 0x30 && (s.charCodeAt(i + 1) | 0x20) === 0x78 && isHexDigit(s.charCodeAt(i + 2))) {
    i += 2;
    while (i < n && isHexDigit(s.charCodeAt(i))) i++;
  } else {
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === start) {
      touchSql(i + 1);
      return -1;
    }
    if (s.charCodeAt(i) === 0x2e) for (i++; i < n && isDigit(s.charCodeAt(i)); ) i++;
    if ((s.charCodeAt(i) | 0x20) === 0x65) {
      const sign = s.charCodeAt(i + 1) === 0x2b || s.charCodeAt(i + 1) === 0x2d ? 1 : 0;
      if (isDigit(s.charCodeAt(i + 1 + sign))) for (i += 1 + sign; i < n && isDigit(s.charCodeAt(i)); ) i++;
    }
  }
  touchSql(i + 1);
  // `1st`, `2nd`, `10am`, `3.5GB`: a word, not a number followed by code.
  if (i < n && isSqlWordChar(s.charCodeAt(i))) return -1;
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isWordStart(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/** Why the code after `start` continues a SQL statement, or null. */
function afterLeaving(s: string, start: number, numeric: boolean): string | null {
  const tokens = new SqlTokens(s, start);
  return afterToken(tokens.next(), tokens, numeric);
}

/**
 * Why the code from `t` on, just after a closed literal or a number, continues a SQL statement, or null.
 * `own`: the code follows a logic word (`' OR ' a'`), so a comparison in it stands as its own predicate
 * rather than comparing the closed literal's truth value.
 */
function afterToken(t: Token, tokens: SqlTokens, numeric: boolean, own = false): string | null {
  for (;;) {
    while (t.type === T.RParen) t = tokens.next();
    switch (t.type) {
      case T.End:
        return null;
      case T.Comment:
        // `admin'--`: the rest of the query is cut off. In a numeric slot `5 -- note` is prose too often.
        return numeric && t.text !== '/*' ? null : 'literal closed, rest of the query commented out';
      case T.Semi:
        return stackedStatement(tokens) ? 'statement ended, another one stacked' : null;
      case T.String:
        // `x' 'y' UNION …`: MySQL joins adjacent literals into one value.
        if (numeric || !t.spaced) return null;
        t = tokens.next();
        continue;
      case T.Comma: {
        // `1,2) UNION …` (an IN list), `x', (SELECT …))` (an INSERT's next value), `x', 'y'), ('z', …` (a
        // further row): the values that follow are read, then what comes after them.
        let u = tokens.next();
        let rows = 0;
        while (u.type === T.LParen) {
          u = tokens.next();
          rows++;
        }
        if (rows > 0 && u.type === T.Word && u.text === 'SELECT') return selectBody(tokens) ? 'subquery added as a value' : null;
        if (u.type !== T.String && u.type !== T.Number && !(u.type === T.Word && u.text === 'NULL')) return null;
        t = tokens.next();
        // `1, 2 apples`: a list in prose. Values read on only to a `)` or another comma.
        if (t.type !== T.RParen && t.type !== T.Comma) return null;
        continue;
      }
      case T.Op:
        if (t.text === '||' || t.text === '&&') return operand(tokens, numeric, t.text, own) ? `${numeric ? 'number' : 'literal'} closed, boolean clause added` : null;
        if (t.text === '::') {
          // PostgreSQL's cast of the value just closed: `'x'::text UNION …` reads on after the type.
          if (tokens.next().type !== T.Word) return null;
          t = tokens.next();
          continue;
        }
        if (numeric) {
          // `1-0 UNION …`: arithmetic on the number goes on to the next number, and what follows that is
          // read as after the first (`3 * 4`, `1 - 2 people` end there or in a plain word).
          if (!ARITHMETIC.has(t.text)) return null;
          let u = tokens.next();
          while (u.type === T.Op && (u.text === '-' || u.text === '+' || u.text === '~')) u = tokens.next();
          if (u.type !== T.Number) return null;
          t = tokens.next();
          continue;
        }
        if (COMPARISON.has(t.text) || ARITHMETIC.has(t.text)) return operand(tokens, false, COMPARISON.has(t.text) ? '=' : '', own) ? 'literal closed, expression continued' : null;
        return null;
      case T.Word: {
        const w = t.text;
        if (w === 'COLLATE') {
          // `x' COLLATE NOCASE UNION …`: the collation applies to the value, the reading goes on after it.
          if (tokens.next().type !== T.Word) return null;
          t = tokens.next();
          continue;
        }
        // Postfix null tests complete a predicate: `x' NOT NULL--`, `1 IS NOT NULL` (every row: `(id=1) IS NOT NULL`).
        let test = w === 'NOTNULL' || w === 'ISNULL';
        if (!test && (w === 'NOT' || (numeric && w === 'IS'))) {
          let u = tokens.next();
          if (w === 'IS' && u.type === T.Word && u.text === 'NOT') u = tokens.next();
          if (u.type !== T.Word || u.text !== 'NULL') return null;
          test = true;
        }
        if (test) {
          t = tokens.next();
          if (numeric && (t.type === T.End || t.type === T.Comment || t.type === T.Semi || t.type === T.RParen)) return 'number closed, null test added';
          continue;
        }
        if (numeric && (w === 'IN' || w === 'BETWEEN')) return numericWordOperator(w, tokens);
        return afterWord(t, tokens, numeric, own);
      }
      default:
        return null;
    }
  }
}

/**
 * After a number: `1 IN (SELECT …)` (blind extraction: a row or none) and `1 BETWEEN 0 AND 1` ending the
 * value (`(id=1) BETWEEN 0 AND 1`, every row). Other uses of the words after a number are prose.
 */
function numericWordOperator(w: string, tokens: SqlTokens): string | null {
  if (w === 'IN') {
    if (tokens.next().type !== T.LParen) return null;
    const u = tokens.next();
    return u.type === T.Word && u.text === 'SELECT' && selectFrom(tokens) ? 'number closed, IN subquery added' : null;
  }
  if (tokens.next().type !== T.Number || tokens.next().text !== 'AND' || tokens.next().type !== T.Number) return null;
  const v = tokens.next();
  return v.type === T.End || v.type === T.Comment || v.type === T.Semi || v.type === T.RParen ? 'number closed, BETWEEN test added' : null;
}

function afterWord(t: Token, tokens: SqlTokens, numeric: boolean, own = false): string | null {
  const w = t.text;
  if (SQL_LOGIC.has(w) && w !== 'NOT') return operand(tokens, numeric, w, own) ? `${numeric ? 'number' : 'literal'} closed, ${w} clause added` : null;
  if (w === 'UNION' || w === 'INTERSECT' || w === 'EXCEPT') {
    let u = tokens.next();
    if (u.type === T.Word && (u.text === 'ALL' || u.text === 'DISTINCT')) u = tokens.next();
    while (u.type === T.LParen) u = tokens.next();
    return u.type === T.Word && u.text === 'SELECT' ? 'UNION SELECT appended' : null;
  }
  if (w === 'ORDER' || w === 'GROUP') {
    const by = tokens.next();
    if (by.type !== T.Word || by.text !== 'BY') return null;
    const what = tokens.next();
    return what.type === T.Number || (what.type === T.Word && (tokens.next().type === T.Comment || !numeric)) ? `${w} BY clause added` : null;
  }
  if (w === 'HAVING' || w === 'WHERE') return operand(tokens, true) ? `${w} clause added` : null;
  if (w === 'LIMIT' || w === 'OFFSET') return tokens.next().type === T.Number && !numeric ? `${w} clause added` : null;
  if (w === 'INTO') {
    const u = tokens.next();
    if (u.type === T.Variable) {
      // `INTO @a` ends a SELECT (or lists more variables); "2 into @sales team" goes on in prose.
      const v = tokens.next();
      return v.type === T.End || v.type === T.Comment || v.type === T.Semi || v.type === T.Comma || v.type === T.RParen || (v.type === T.Word && SQL_CLAUSES.has(v.text)) ? 'INTO OUTFILE added' : null;
    }
    return u.type === T.Word && (u.text === 'OUTFILE' || u.text === 'DUMPFILE') ? 'INTO OUTFILE added' : null;
  }
  if (w === 'PROCEDURE') return tokens.next().text === 'ANALYSE' ? 'PROCEDURE ANALYSE added' : null;
  if (w === 'WAITFOR') {
    const u = tokens.next();
    return u.text === 'DELAY' || u.text === 'TIME' ? 'WAITFOR DELAY added' : null;
  }
  if (SQL_ATTACK_FUNCTIONS.has(w)) {
    const p = tokens.next();
    if (p.type !== T.LParen) return null;
    // `'Sleep (Remix)'`, `"Benchmark (computing)"`: a title, then a plain word in parentheses.
    if (p.spaced) {
      const a = tokens.next();
      if (a.type === T.Word && !SQL_FUNCTIONS.has(a.text) && !SQL_CONSTANTS.has(a.text) && tokens.next().type === T.RParen) return null;
    }
    return `${w} call added`;
  }
  if (!numeric && SQL_WORD_OPERATORS.has(w)) return operand(tokens, false, w, own) ? `literal closed, ${w} comparison added` : null;
  return null;
}

/**
 * Whether what follows an operator is a complete SQL operand (a string, a comparison, a call, a subquery).
 * `op`: the operator, when a logic or comparison word (`OR`, `LIKE`, `IN`, …) or `=` for any comparison;
 * `own`: as for afterToken().
 */
function operand(tokens: SqlTokens, strict: boolean, op = '', own = false): boolean {
  let u = tokens.next();
  while ((u.type === T.Word && u.text === 'NOT') || (u.type === T.Op && (u.text === '!' || u.text === '-' || u.text === '+' || u.text === '~'))) u = tokens.next();
  switch (u.type) {
    case T.String: {
      const logic = SQL_LOGIC.has(op);
      // A string that opens on prose (`Press "+" to zoom in`, `click "Like" button`) is a quotation read
      // from its closing quote: it adds an inert value, so what follows it decides (`' || ' x' OR 1=1`).
      if (tokens.prose && !tokens.open) return afterToken(tokens.next(), tokens, false, own || logic) !== null;
      if (!tokens.open || !op) return !tokens.prose || own;
      // The value ends in the string (the app's quote closes it: `Click "Like"`, `"like" & share`,
      // `"=" sign in sheets`): `'' OR ''` and `'' OR ' prose'` are false, and a pattern compared with the
      // literal's 0 or 1 matches only through a wildcard (`' LIKE '%`); IN, IS and BETWEEN take no bare
      // string. A regular expression may match anything. A comparison of its own (`' OR ' a'=' a`) holds.
      if (logic) return !tokens.empty && !tokens.prose;
      if (op === 'REGEXP' || op === 'RLIKE') return true;
      // A prose pattern starts with white space: it never matches the literal's 0 or 1.
      if (tokens.prose && !own) return false;
      return op === '=' || tokens.wildcard();
    }
    case T.LParen:
    case T.Variable:
      return true;
    case T.Number: {
      const v = tokens.next();
      // `1/2" or 3/4" brass`: arithmetic whose result runs into a string is no expression (inch marks).
      if (!strict && v.type === T.Op && ARITHMETIC.has(v.text)) return tokens.next().type !== T.Number || tokens.next().type !== T.String;
      return completes(v, strict, tokens);
    }
    case T.Word: {
      // `"Match Case" in the search`: CASE starts a value only before one (`CASE WHEN`, `CASE x WHEN`).
      if (u.text === 'CASE') {
        const v = tokens.next();
        return v.type === T.Word || v.type === T.Number || v.type === T.LParen || v.type === T.Variable || (v.type === T.String && !tokens.prose);
      }
      if (SQL_VALUE_STARTERS.has(u.text) && u.text !== 'CHAR' && u.text !== 'CHR' && u.text !== 'BINARY' && u.text !== 'ALL' && u.text !== 'ANY' && u.text !== 'SOME') return true;
      const v = tokens.next();
      if (v.type === T.LParen) return !v.spaced || SQL_FUNCTIONS.has(u.text);
      if (SQL_CONSTANTS.has(u.text)) return completes(v, strict, tokens) || ((u.text === 'TRUE' || u.text === 'FALSE') && (v.type === T.End || v.type === T.Comment));
      return (v.type === T.Op && COMPARISON.has(v.text)) || (v.type === T.Word && SQL_WORD_OPERATORS.has(v.text));
    }
    default:
      return false;
  }
}

/** Whether the token after a simple operand (`1`, `TRUE`) ends a well-formed clause. */
function completes(v: Token, strict: boolean, tokens: SqlTokens): boolean {
  if (v.type === T.Op) return COMPARISON.has(v.text) || (!strict && ARITHMETIC.has(v.text));
  if (v.type === T.Comment) return true;
  if (v.type === T.Word) return (SQL_WORD_OPERATORS.has(v.text) && wordOperand(v.text, tokens)) || (!strict && (SQL_LOGIC.has(v.text) || SQL_CLAUSES.has(v.text)));
  if (strict) return false;
  return v.type === T.End || v.type === T.RParen || v.type === T.Semi;
}

/**
 * After `1 LIKE`, `1 IN`, `1 IS`: whether what follows is the operand the word takes ("2 or 3 is fine",
 * "1 or 2 in stock", "4 or 5 like new" go on in prose words).
 */
function wordOperand(w: string, tokens: SqlTokens): boolean {
  let u = tokens.next();
  if (w === 'IS') {
    if (u.type === T.Word && u.text === 'NOT') u = tokens.next();
    return u.type === T.Word && (u.text === 'NULL' || u.text === 'TRUE' || u.text === 'FALSE' || u.text === 'UNKNOWN');
  }
  if (w === 'IN') return u.type === T.LParen;
  if (w === 'SOUNDS') return u.text === 'LIKE';
  if (w === 'COLLATE') return u.type === T.Word;
  if (u.type === T.String) return !tokens.prose;
  return u.type === T.Number || u.type === T.LParen || u.type === T.Variable || (u.type === T.Word && (SQL_CONSTANTS.has(u.text) || SQL_VALUE_STARTERS.has(u.text) || SQL_FUNCTIONS.has(u.text)));
}

/** After `SELECT`: whether a select list follows (`1`, `*`, `password FROM`, a call), not prose ("select a plan"). */
function selectBody(tokens: SqlTokens): boolean {
  return selectList(tokens.next(), tokens);
}

/** selectBody(), stricter where prose in parentheses is common ("(select one)"): a number, `*`, a known call, or a name then FROM. */
function selectFrom(tokens: SqlTokens): boolean {
  const u = tokens.next();
  if (u.type === T.LParen) return parenthesisedList(u, tokens);
  if (u.type === T.Number || u.type === T.Variable || u.text === '*') return true;
  if (u.type !== T.Word) return false;
  const v = tokens.next();
  return (v.type === T.LParen && SQL_FUNCTIONS.has(u.text)) || v.text === 'FROM';
}

function selectList(u: Token, tokens: SqlTokens): boolean {
  if (u.type === T.LParen) return parenthesisedList(u, tokens);
  return u.type === T.Number || u.type === T.String || u.type === T.Variable || u.text === '*' || (u.type === T.Word && (SQL_FUNCTIONS.has(u.text) || ((v) => v.type !== T.Word || v.text === 'FROM')(tokens.next())));
}

/**
 * A select list that opens with `(` (`SELECT(SLEEP(5))`, `SELECT(password)FROM(users)`: no space needed,
 * so a path segment can carry it). Right after the word it is code when a number, `*`, a variable, a
 * subquery, a call or `name)FROM` follows; after a space ("select (one) of these") only a call or a subquery.
 */
function parenthesisedList(u: Token, tokens: SqlTokens): boolean {
  const v = tokens.next();
  if (v.type === T.Word && v.text === 'SELECT') return true;
  const w = tokens.next();
  if (v.type === T.Word && w.type === T.LParen && SQL_FUNCTIONS.has(v.text)) return true;
  if (u.spaced) return false;
  return v.type === T.Number || v.type === T.Variable || v.text === '*' || (v.type === T.Word && w.type === T.RParen && tokens.next().text === 'FROM');
}

/** After `;`: whether a real statement starts (`DROP TABLE`, `SELECT 1`), not prose ("; select a plan"). */
function stackedStatement(tokens: SqlTokens): boolean {
  const t = tokens.next();
  if (t.type === T.Comment) return true;
  if (t.type !== T.Word) return false;
  const u = tokens.next();
  switch (t.text) {
    case 'SELECT':
      return selectList(u, tokens);
    case 'INSERT':
    case 'REPLACE':
      return u.text === 'INTO';
    case 'UPDATE':
      return u.type === T.Word && tokens.next().text === 'SET';
    case 'DELETE':
      return u.text === 'FROM';
    case 'DROP':
    case 'CREATE':
    case 'ALTER':
    case 'TRUNCATE':
      return ['TABLE', 'DATABASE', 'USER', 'VIEW', 'PROCEDURE', 'FUNCTION', 'SCHEMA', 'INDEX', 'TRIGGER', 'OR', 'TEMP', 'TEMPORARY', 'LOGIN', 'ROLE', 'EXTENSION'].includes(u.text);
    case 'EXEC':
    case 'EXECUTE':
      return u.type === T.LParen || (u.type === T.Word && (u.text.startsWith('XP_') || u.text.startsWith('SP_') || u.text.startsWith('MASTER') || tokens.next().type !== T.Word));
    case 'DECLARE':
    case 'SET':
      return u.type === T.Variable;
    case 'SHUTDOWN':
      return u.type === T.End || u.type === T.Comment || u.text === 'WITH';
    case 'WAITFOR':
      return u.text === 'DELAY' || u.text === 'TIME';
    case 'COPY':
      return u.type === T.LParen || (u.type === T.Word && ['FROM', 'TO'].includes(tokens.next().text));
    case 'LOAD':
      return u.text === 'DATA' || u.text === 'XML';
    case 'CALL':
      return u.type === T.Word && tokens.next().type === T.LParen;
    case 'ATTACH':
      // `ATTACH 'file.db' AS p`: SQLite opens (or creates) a file; DATABASE is optional.
      return u.text === 'DATABASE' || (u.type === T.String && tokens.next().text === 'AS');
    case 'WITH':
      // `WITH c AS (SELECT 1) DELETE …`: a common table expression starts any statement.
      return (u.type === T.Word && (u.text === 'RECURSIVE' ? tokens.next().type === T.Word : true)) && tokens.next().text === 'AS' && tokens.next().type === T.LParen;
    case 'VACUUM':
      return u.text === 'INTO' || (u.type === T.Word && tokens.next().text === 'INTO');
    case 'MERGE':
      return u.text === 'INTO';
    case 'PRAGMA':
    case 'KILL':
    case 'SHOW':
      return u.type === T.Word || u.type === T.Number ? tokens.next().type === T.End || tokens.next().type === T.Comment : false;
    case 'IF':
      return u.type === T.LParen;
    case 'GRANT':
    case 'REVOKE':
      return u.text === 'ALL' || u.text === 'SELECT' || u.text === 'EXECUTE';
    default:
      return SQL_ATTACK_FUNCTIONS.has(t.text) && u.type === T.LParen;
  }
}
