/**
 * NoSQL injection: a MongoDB-style query operator where the application expects a plain value —
 * `{"$ne": null}` in a JSON string a handler will parse, `[$ne]` in a bracketed form key — and
 * JavaScript breaking out of a `$where` string (`'; return true; var x='`, `' || '1'=='1`). A `$`
 * before a number or a word outside key position ("costs $5", "$in the bank") is prose.
 */
import { F_DOLLAR, F_QUOTE, isRegexSpace } from '../features.js';
import { redactedSnippet } from '../snippet.js';
import { B_NOSQL, type AttackCategorySet, type AttackLocation, type AttackMatch, type Finding } from '../types.js';
import { addWork } from '../work-counter.js';
import { indexOfNear } from '../../text/near-index.js';

export const NOSQL_FEATURES = F_DOLLAR | F_QUOTE;

export const NOSQL_OPERATORS: ReadonlySet<string> = new Set(
  ('ne eq gt gte lt lte in nin regex where exists or and nor not expr function accumulator elemmatch size type mod all ' +
    'text jsonschema lookup options comment search where natural slice rand sampleRate').toLowerCase().split(' '),
);

/**
 * `holder`: the parsed object the key is in, when known. A `$comment` there whose value is a string, beside
 * a JSON Schema keyword, is the schema annotation (draft 7 on), not MongoDB's operator — which only adds a
 * note to the profiler log anyway.
 */
export function isNosqlOperatorKey(key: string, holder?: object): boolean {
  if (key.length <= 1 || key.charCodeAt(0) !== 0x24 || !NOSQL_OPERATORS.has(key.slice(1).toLowerCase())) return false;
  return holder === undefined || key !== '$comment' || !isSchemaComment(holder as Record<string, unknown>);
}

const SCHEMA_KEYWORDS = ['$schema', '$id', '$ref', '$defs', 'definitions', 'type', 'properties', 'items', 'required', 'enum', 'const', 'allOf', 'anyOf', 'oneOf'];

function isSchemaComment(holder: Record<string, unknown>): boolean {
  return typeof holder['$comment'] === 'string' && SCHEMA_KEYWORDS.some((k) => Object.hasOwn(holder, k));
}

/**
 * A query or form parameter *named* as an operator, whole or before its first `[` (`$where=…`,
 * `$or[0][role]=admin`): qs and node:querystring both make it a top-level key of `Model.find(req.query)`,
 * where `$where` runs JavaScript and `$or` widens the filter. `$search` is left out: it is OData's query
 * option, and no filter operator at the top level. `$`, `price$` and `$5` are no operators.
 */
export function operatorParameter(name: string, location: AttackLocation, enabled: AttackCategorySet): AttackMatch | null {
  if ((enabled & B_NOSQL) === 0 || name.charCodeAt(0) !== 0x24) return null;
  const bracket = name.indexOf('[');
  const key = bracket < 0 ? name : name.slice(0, bracket);
  if (!isNosqlOperatorKey(key) || key.toLowerCase() === '$search') return null;
  return { category: 'nosql', location, field: name, snippet: redactedSnippet(name, 0), reason: `query operator ${key.toLowerCase()} as a parameter name` };
}

/** Group 1: a statement keyword whose operand is read on by isProseAfter. */
export const JS_BREAKOUT = /['"]\s*(?:;\s*(?:(return\b|var\s|let\s|const\s|throw\b)|while\s*\(|for\s*\(|sleep\s*\(|this\.|db\.|function\b)|(?:\|\||&&)\s*(?:['"]?\w+['"]?\s*[=!]==?|this\.|true\b|1\b|sleep\s*\(|function\b|\(\s*function))/i;

export function detectNosql(s: string): Finding | null {
  const n = s.length;
  addWork(n);
  for (let i = indexOfNear(s, '$', 0); i >= 0; i = indexOfNear(s, '$', i + 1)) {
    let j = i + 1;
    while (j < n && j - i < 16 && (s.charCodeAt(j) | 0x20) >= 0x61 && (s.charCodeAt(j) | 0x20) <= 0x7a) j++;
    if (j === i + 1 || !NOSQL_OPERATORS.has(s.slice(i + 1, j).toLowerCase())) continue;
    // Key position: after `{`, `,`, `[` or a quote, and before a quote, `]` or `:`.
    let b = i - 1;
    while (b >= 0 && s.charCodeAt(b) === 0x20) b--;
    const before = b < 0 ? 0x7b : s.charCodeAt(b);
    let a = j;
    while (a < n && s.charCodeAt(a) === 0x20) a++;
    const after = a >= n ? 0 : s.charCodeAt(a);
    const keyBefore = before === 0x7b || before === 0x2c || before === 0x5b || before === 0x22 || before === 0x27;
    const keyAfter = after === 0x22 || after === 0x27 || after === 0x5d || after === 0x3a;
    if (keyBefore && keyAfter && (b >= 0 || after === 0x3a || after === 0x22)) return { at: i, reason: `query operator $${s.slice(i + 1, j).toLowerCase()} as a key` };
    // A query string carried in the value (`$where=sleep(5000)`, `a=1&$or[0][x]=y`): the operator is a
    // parameter name there (see operatorParameter), right after the start, `?` or `&`, right before `=` or `[`.
    const prev = i === 0 ? 0x26 : s.charCodeAt(i - 1);
    const next = j < n ? s.charCodeAt(j) : 0;
    if ((prev === 0x26 || prev === 0x3f) && (next === 0x3d || next === 0x5b) && s.slice(i + 1, j).toLowerCase() !== 'search') {
      return { at: i, reason: `query operator $${s.slice(i + 1, j).toLowerCase()} as a parameter name` };
    }
  }
  const at = jsBreakout(s);
  return at >= 0 ? { at, reason: 'string closed, JavaScript added ($where)' } : null;
}

const JS_BREAKOUT_AT = new RegExp(JS_BREAKOUT.source, 'iy');

/**
 * Where JS_BREAKOUT first matches, or -1. Every match is a quote, optional whitespace, then `;`, `||`
 * or `&&`, so the search starts from those (rare in prose) and looks back for the quote, instead of a
 * regex trying every quote of a long text (apostrophes are everywhere in prose).
 */
export function jsBreakout(s: string): number {
  let first = -1;
  for (const anchor of BREAKOUT_ANCHORS) {
    for (let p = s.indexOf(anchor); p >= 0 && (first < 0 || p < first); p = s.indexOf(anchor, p + 1)) {
      let q = p - 1;
      while (q >= 0 && isRegexSpace(s.charCodeAt(q))) q--;
      const c = s.charCodeAt(q);
      if (c !== 0x27 && c !== 0x22) continue;
      JS_BREAKOUT_AT.lastIndex = q;
      const m = JS_BREAKOUT_AT.exec(s);
      if (m && !(m[1] !== undefined && isProseAfter(s, JS_BREAKOUT_AT.lastIndex))) {
        first = q;
        break;
      }
    }
  }
  return first;
}

const BREAKOUT_ANCHORS = [';', '||', '&&'];

/**
 * Operators that may stand between two words of one expression (`x in y`), or before the next word
 * of one (`return new Date`, `throw new Error`, `return typeof x`).
 */
const WORD_OPERATORS: ReadonlySet<string> = new Set(['in', 'instanceof', 'of', 'new', 'typeof', 'void', 'delete', 'await', 'yield', 'async', 'function', 'class']);
const OPERAND = /\s*([A-Za-z_$][\w$]*|\d+)[ \t]+([A-Za-z_$][\w$]*)/y;

/**
 * Whether what follows `return`, `throw`, `let`, `var` or `const` at `at` is prose: a word and then
 * another on the same line (`let us know`, `return shipping was free`). JavaScript never puts two
 * operands side by side without an operator or a line break between them, so such a `$where` string
 * is a syntax error and runs nothing; `return true`, `var x=` and a `throw` of a constructed error go on as code.
 */
function isProseAfter(s: string, at: number): boolean {
  OPERAND.lastIndex = at;
  const m = OPERAND.exec(s);
  return m !== null && !WORD_OPERATORS.has(m[1]!) && !WORD_OPERATORS.has(m[2]!);
}
