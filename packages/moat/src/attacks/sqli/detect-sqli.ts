/**
 * SQL injection by structure. An input lands either inside a quoted literal ('…' or "…") or in a
 * numeric slot. For each context the value can be in, we find where it would leave that context (its
 * first unescaped quote, or the end of its leading number) and read the next tokens as SQL: an attack
 * continues the statement — `OR` with a complete operand, `UNION SELECT`, a comparison, `;` and a new
 * statement, a comment cutting the query, a delay function. Prose leaves the literal into a plain word
 * ("O'Brien" → `Brien`), which no query grammar continues, so it passes whatever words follow later.
 */
import { F_NUMERIC_START, F_QUOTE, F_SEMI } from '../features.js';
import type { Finding } from '../types.js';
import { SQL_ATTACK_FUNCTIONS, SQL_CLAUSES, SQL_CONSTANTS, SQL_FUNCTIONS, SQL_LOGIC, SQL_VALUE_STARTERS, SQL_WORD_OPERATORS } from '../words/sql.js';
import { SqlTokens, T, resetSqlReach, sqlReach, touchSql, type Token } from './sql-tokens.js';

const COMPARISON = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', '==', '<=>']);
const ARITHMETIC = new Set(['+', '-', '*', '/', '%', '|', '&', '^', '||', '&&', '::']);

export const SQLI_FEATURES = F_QUOTE | F_NUMERIC_START | F_SEMI;

export function detectSqli(s: string): Finding | null {
  return inLiteral(s, 0x27) ?? inLiteral(s, 0x22) ?? inNumber(s);
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
  const hit = inLiteral(window, q);
  return last || sqlReach() <= window.length ? hit : undefined;
}

export function sqlNumberInWindow(window: string, last: boolean): Finding | null | undefined {
  resetSqlReach();
  const hit = inNumber(window);
  return last || sqlReach() <= window.length ? hit : undefined;
}

/** The value placed in a literal quoted by `q`: what follows the quote that would close it. */
function inLiteral(s: string, q: number): Finding | null {
  const at = firstClosingQuote(s, q);
  if (at < 0) return null;
  const r = afterLeaving(s, at + 1, false);
  return r ? { at, reason: r } : null;
}

/** The value placed in a numeric slot: what follows its leading number. */
function inNumber(s: string): Finding | null {
  const numberEnd = leadingNumberEnd(s);
  if (numberEnd < 0) return null;
  const r = afterLeaving(s, numberEnd, true);
  return r ? { at: numberEnd, reason: r } : null;
}

/** Index of the quote that would end a literal the value was placed in, or -1. */
function firstClosingQuote(s: string, q: number): number {
  let i = s.indexOf(q === 0x27 ? "'" : '"');
  while (i >= 0) {
    // `''` inside a literal is an escaped quote, and so is `\'` for MySQL; neither ends the string.
    if (s.charCodeAt(i + 1) === q) {
      i = s.indexOf(q === 0x27 ? "'" : '"', i + 2);
      continue;
    }
    if (i > 0 && s.charCodeAt(i - 1) === 0x5c) {
      i = s.indexOf(q === 0x27 ? "'" : '"', i + 1);
      continue;
    }
    touchSql(i + 2);
    return i;
  }
  // Searched to the end.
  touchSql(Infinity);
  return -1;
}

/** End of a leading `-`/`(`-prefixed number (the numeric context), or -1 when the value does not start with one. */
function leadingNumberEnd(s: string): number {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 0x28 || s.charCodeAt(i) === 0x2d || s.charCodeAt(i) === 0x20)) i++;
  const start = i;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  touchSql(i + 1);
  if (i === start) return -1;
  const c = s.charCodeAt(i);
  // `1st`, `2nd`, `10am`: a word, not a number followed by code.
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return -1;
  return i;
}

/** Why the code after `start` continues a SQL statement, or null. */
function afterLeaving(s: string, start: number, numeric: boolean): string | null {
  const tokens = new SqlTokens(s, start);
  let t = tokens.next();
  while (t.type === T.RParen) t = tokens.next();
  switch (t.type) {
    case T.End:
      return null;
    case T.Comment:
      // `admin'--`: the rest of the query is cut off. In a numeric slot `5 -- note` is prose too often.
      return numeric && t.text !== '/*' ? null : 'literal closed, rest of the query commented out';
    case T.Semi:
      return stackedStatement(tokens) ? 'statement ended, another one stacked' : null;
    case T.Op:
      if (t.text === '||' || t.text === '&&') return operand(tokens, numeric) ? `${numeric ? 'number' : 'literal'} closed, boolean clause added` : null;
      if (numeric) return null; // `3 * 4`, `1 - 2`: arithmetic after a number is everyday text
      if (COMPARISON.has(t.text) || ARITHMETIC.has(t.text)) return operand(tokens, false) ? 'literal closed, expression continued' : null;
      return null;
    case T.Word:
      return afterWord(t, tokens, numeric);
    default:
      return null;
  }
}

function afterWord(t: Token, tokens: SqlTokens, numeric: boolean): string | null {
  const w = t.text;
  if (SQL_LOGIC.has(w) && w !== 'NOT') return operand(tokens, numeric) ? `${numeric ? 'number' : 'literal'} closed, ${w} clause added` : null;
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
    return u.type === T.Variable || (u.type === T.Word && (u.text === 'OUTFILE' || u.text === 'DUMPFILE')) ? 'INTO OUTFILE added' : null;
  }
  if (w === 'PROCEDURE') return tokens.next().text === 'ANALYSE' ? 'PROCEDURE ANALYSE added' : null;
  if (w === 'WAITFOR') {
    const u = tokens.next();
    return u.text === 'DELAY' || u.text === 'TIME' ? 'WAITFOR DELAY added' : null;
  }
  if (SQL_ATTACK_FUNCTIONS.has(w)) return tokens.next().type === T.LParen ? `${w} call added` : null;
  if (!numeric && SQL_WORD_OPERATORS.has(w)) return operand(tokens, false) ? `literal closed, ${w} comparison added` : null;
  return null;
}

/** Whether what follows an operator is a complete SQL operand (a string, a comparison, a call, a subquery). */
function operand(tokens: SqlTokens, strict: boolean): boolean {
  let u = tokens.next();
  while ((u.type === T.Word && u.text === 'NOT') || (u.type === T.Op && (u.text === '!' || u.text === '-' || u.text === '+' || u.text === '~'))) u = tokens.next();
  switch (u.type) {
    case T.String:
      return true;
    case T.LParen:
    case T.Variable:
      return true;
    case T.Number:
      return completes(tokens.next(), strict);
    case T.Word: {
      if (SQL_VALUE_STARTERS.has(u.text) && u.text !== 'CHAR' && u.text !== 'CHR' && u.text !== 'BINARY' && u.text !== 'ALL' && u.text !== 'ANY' && u.text !== 'SOME') return true;
      const v = tokens.next();
      if (v.type === T.LParen) return !v.spaced || SQL_FUNCTIONS.has(u.text);
      if (SQL_CONSTANTS.has(u.text)) return completes(v, strict) || ((u.text === 'TRUE' || u.text === 'FALSE') && (v.type === T.End || v.type === T.Comment));
      return (v.type === T.Op && COMPARISON.has(v.text)) || (v.type === T.Word && SQL_WORD_OPERATORS.has(v.text));
    }
    default:
      return false;
  }
}

/** Whether the token after a simple operand (`1`, `TRUE`) ends a well-formed clause. */
function completes(v: Token, strict: boolean): boolean {
  if (v.type === T.Op) return COMPARISON.has(v.text) || (!strict && ARITHMETIC.has(v.text));
  if (v.type === T.Comment) return true;
  if (v.type === T.Word) return SQL_WORD_OPERATORS.has(v.text) || (!strict && (SQL_LOGIC.has(v.text) || SQL_CLAUSES.has(v.text)));
  if (strict) return false;
  return v.type === T.End || v.type === T.RParen || v.type === T.Semi;
}

/** After `;`: whether a real statement starts (`DROP TABLE`, `SELECT 1`), not prose ("; select a plan"). */
function stackedStatement(tokens: SqlTokens): boolean {
  const t = tokens.next();
  if (t.type === T.Comment) return true;
  if (t.type !== T.Word) return false;
  const u = tokens.next();
  switch (t.text) {
    case 'SELECT':
      return u.type === T.Number || u.type === T.String || u.type === T.Variable || u.text === '*' || (u.type === T.Word && (SQL_FUNCTIONS.has(u.text) || ((v) => v.type !== T.Word || v.text === 'FROM')(tokens.next())));
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
      return u.text === 'DATABASE';
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
