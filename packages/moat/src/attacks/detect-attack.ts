/**
 * The single entry point: is this request value an attack, and of which kind? Order of work, cheapest
 * first: one feature scan of the raw value (features.ts); a value holding no syntax character of any
 * enabled category is clean right there, which is almost every value. Otherwise each enabled detector
 * whose characters are present reads the value, and when the value holds an encoding layer (`%`, `&`,
 * `\`, non-ASCII) the decoded view is read again — the app or the browser may decode it.
 */
import { decodedView } from './decode/decoded-view.js';
import { F_ENCODED, F_NONASCII, encodingFeatures, gateFeatures, scanFeatures } from './features.js';
import { NOSQL_FEATURES, detectNosql } from './nosql/detect-nosql.js';
import { PROTOTYPE_FEATURES, detectPrototypePollution } from './prototype/detect-prototype-pollution.js';
import { redactedSnippet } from './snippet.js';
import { SQLI_FEATURES, detectSqli } from './sqli/detect-sqli.js';
import { SHELL_FEATURES, detectShell } from './shell/detect-shell.js';
import { SSRF_FEATURES, detectSsrf } from './ssrf/detect-ssrf.js';
import { TEMPLATE_FEATURES, detectTemplateInjection } from './template/detect-template-injection.js';
import { TRAVERSAL_FEATURES, detectTraversal } from './traversal/detect-traversal.js';
import { ALL_ATTACK_CATEGORIES, ATTACK_CATEGORIES, B_NOSQL, B_PROTOTYPE, B_SHELL, B_SQLI, B_SSRF, B_TEMPLATE, B_TRAVERSAL, B_XSS, type AttackCategory, type AttackCategorySet, type AttackLocation, type AttackMatch, type Finding } from './types.js';
import { XSS_FEATURES, detectXss } from './xss/detect-xss.js';

/** Values longer than this are examined in their first MAX_VALUE characters only (bounded work per value). */
export const MAX_VALUE = 256 * 1024;

/** From this length a value with an encoding layer is examined in its decoded view only (see detectAttack). */
export const LONG_VALUE = 1024;


/** Feature bits that make each category worth running, indexed like ATTACK_CATEGORIES. */
const NEEDS = [SQLI_FEATURES, XSS_FEATURES, TRAVERSAL_FEATURES, SHELL_FEATURES, SSRF_FEATURES, NOSQL_FEATURES, PROTOTYPE_FEATURES, TEMPLATE_FEATURES];

/** Feature bits that make any of `enabled` worth running, or an encoding layer worth decoding: no bit in common, no attack. */
export function neededFeatures(enabled: AttackCategorySet): number {
  return NEEDED[enabled & ALL_ATTACK_CATEGORIES]!; // masked to the table's size
}

/** The feature masks of the categories in each category set: what gateFeatures() must decide for a long value. */
const GATES: readonly (readonly number[])[] = Array.from({ length: ALL_ATTACK_CATEGORIES + 1 }, (_, enabled) => NEEDS.filter((_, i) => (enabled & (1 << i)) !== 0));

/** neededFeatures() for every category set, looked up rather than summed on each call. */
const NEEDED = new Int32Array(ALL_ATTACK_CATEGORIES + 1).map((_, enabled) => {
  let bits = F_ENCODED;
  NEEDS.forEach((needs, i) => {
    if (enabled & (1 << i)) bits |= needs;
  });
  return bits;
});

/** `ascii`: the caller knows `value` is all ASCII (see FormValueDecoder); only a hint, false is always safe. */
export function detectAttack(value: string, location: AttackLocation, enabled: AttackCategorySet, ascii = false): AttackMatch | null {
  if (value.length < 2 || enabled === 0) return null;
  const text = value.length > MAX_VALUE ? value.slice(0, MAX_VALUE) : value;
  const long = text.length > LONG_VALUE;
  // A long value is read in one view only (below), and its encoding layer decides which: so only the
  // encoding characters are looked for first, and the full feature scan runs once, on the view read.
  const features = long ? encodingFeatures(text, ascii) : scanFeatures(text);
  if (!long && (features & neededFeatures(enabled)) === 0) return null;
  const decoded = features & F_ENCODED ? decodedView(text, (features & F_NONASCII) !== 0) : text;
  let found: AttackMatch | null = null;
  // Masked to the table's size, so always present.
  const gates = GATES[enabled & ALL_ATTACK_CATEGORIES]!;
  if (decoded === text) {
    const f = long ? gateFeatures(text, gates) | features : features;
    if ((f & neededFeatures(enabled)) === 0) return null;
    found = run(text, f, enabled, location, null);
  } else {
    // A long value with an encoding layer is read once, decoded: decoding only turns escapes into the
    // characters they stand for, and reading both views doubled the cost of 64 KiB bodies (bench). Short
    // values are read both ways, which also covers a decoding that would hide structure.
    if (!long) found = run(text, features, enabled, location, null);
    if (found === null) found = run(decoded, long ? gateFeatures(decoded, gates) : scanFeatures(decoded), enabled, location, text);
    // Decoding can put a quote before the one the database sees (`%27x' OR 1=1--` reaching the app as
    // it is): SQL also reads the raw text, a few searches and tokens from where its contexts start.
    if (found === null && long && enabled & B_SQLI) {
      const hit = detectSqli(text);
      if (hit) found = match('sqli', location, text, hit);
    }
  }
  if (found === null && enabled & B_SQLI && decoded.length < 4096 && decoded.includes('+') && !decoded.includes(' ') && location !== 'path') {
    // A form value decoded once more by the app turns `+` into spaces: `1+OR+1=1`.
    const spaced = decoded.replaceAll('+', ' ');
    found = run(spaced, scanFeatures(spaced), B_SQLI, location, text);
  }
  return found;
}

/** `raw`: the value as it arrived when `s` is a decoded view of it, else null. */
function run(s: string, f: number, enabled: AttackCategorySet, location: AttackLocation, raw: string | null): AttackMatch | null {
  let hit: Finding | null = null;
  if (enabled & B_SQLI && f & SQLI_FEATURES && (hit = detectSqli(s))) return match('sqli', location, s, hit);
  if (enabled & B_XSS && f & XSS_FEATURES && (hit = detectXss(s))) return match('xss', location, s, hit);
  if (enabled & B_TRAVERSAL && f & TRAVERSAL_FEATURES && (hit = detectTraversal(s, raw))) return match('traversal', location, s, hit);
  if (enabled & B_SHELL && f & SHELL_FEATURES && (hit = detectShell(s))) return match('shell', location, s, hit);
  if (enabled & B_SSRF && f & SSRF_FEATURES && (hit = detectSsrf(s))) return match('ssrf', location, s, hit);
  if (enabled & B_NOSQL && f & NOSQL_FEATURES && (hit = detectNosql(s))) return match('nosql', location, s, hit);
  if (enabled & B_PROTOTYPE && f & PROTOTYPE_FEATURES && (hit = detectPrototypePollution(s))) return match('prototype', location, s, hit);
  if (enabled & B_TEMPLATE && f & TEMPLATE_FEATURES && (hit = detectTemplateInjection(s))) return match('template', location, s, hit);
  return null;
}

function match(category: AttackCategory, location: AttackLocation, s: string, hit: Finding): AttackMatch {
  return { category, location, snippet: redactedSnippet(s, hit.at), reason: hit.reason };
}
