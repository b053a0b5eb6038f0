/**
 * Whether the text a `bots` feed delivered may become the catalogue every site is compiled with. A feed
 * changes without anyone looking, and its catalogue decides which user agents are blocked on every
 * site, so the check is strict: bounded size and nesting, JSON only, the shipped schema and no other
 * key (no `__proto__` either), then moat-waf's own catalogue rules (known categories, ids, tokens of
 * three characters or more never shared by two bots, well-formed verify list names), then the hub's
 * trust rules (bot-catalogue-trust.ts: verify only through crawler lists, no token browsers send). Pure.
 */
import { createHash } from 'node:crypto';
import { normalizeBotCatalogue, RuleError, type BotCatalogue } from 'moat-waf';
import { catalogueTrustProblems } from './bot-catalogue-trust.js';

/** The shipped catalogue is about 15 KB; a thousand bots fit well under this. */
export const BOT_CATALOGUE_MAX_BYTES = 1024 * 1024;
/** Object → bots list → entry → tokens: four levels; a little room, no more. */
const MAX_DEPTH = 6;
const TOP_KEYS: ReadonlySet<string> = new Set(['version', 'updated', 'about', 'bots']);
const ENTRY_KEYS: ReadonlySet<string> = new Set(['id', 'name', 'category', 'tokens', 'verify']);
/** Keys that mean something to JavaScript objects; refused anywhere in the document. */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export type CatalogueCheck =
  | { ok: true; catalogue: BotCatalogue; json: string; hash: string }
  | { ok: false; problem: string };

/** The canonical JSON of a validated catalogue and its hash: equal for equal catalogues on every hub. */
export function catalogueIdentity(catalogue: BotCatalogue): { json: string; hash: string } {
  const json = JSON.stringify(catalogue);
  return { json, hash: createHash('sha256').update(json).digest('hex') };
}

/** Deepest nesting of arrays and objects, counted outside strings, stopping past `limit`. */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkBotCatalogueText(text: string): CatalogueCheck {
  const refuse = (problem: string): CatalogueCheck => ({ ok: false, problem });
  const bytes = Buffer.byteLength(text);
  if (bytes > BOT_CATALOGUE_MAX_BYTES) return refuse(`the catalogue is ${bytes} bytes, over the ${BOT_CATALOGUE_MAX_BYTES}-byte cap`);
  const body = text.replace(/^\uFEFF/, '');
  const head = body.slice(0, 512).trimStart();
  if (head.startsWith('<')) return refuse('the answer is HTML or XML, not a bot catalogue');
  if (!head.startsWith('{')) return refuse('a bot catalogue is a JSON object');
  if (nestingDepth(body, MAX_DEPTH) > MAX_DEPTH) return refuse(`the JSON nests deeper than ${MAX_DEPTH} levels`);
  let raw: unknown;
  let prototypeKey: string | undefined;
  try {
    raw = JSON.parse(body, (key, value: unknown) => {
      if (PROTOTYPE_KEYS.has(key)) prototypeKey ??= key;
      return value;
    });
  } catch (error) {
    return refuse(`not JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  if (prototypeKey !== undefined) return refuse(`the key ${JSON.stringify(prototypeKey)} is not allowed in a bot catalogue`);
  if (!isPlainObject(raw)) return refuse('a bot catalogue is a JSON object');
  const extra = Object.keys(raw).find((k) => !TOP_KEYS.has(k));
  if (extra !== undefined) return refuse(`unknown key ${JSON.stringify(extra.slice(0, 40))} (expected ${[...TOP_KEYS].join(', ')})`);
  if (raw.version !== undefined && raw.version !== 1) return refuse(`catalogue version ${JSON.stringify(raw.version)} is not one this hub reads (1)`);
  if (Array.isArray(raw.bots)) {
    for (const [i, entry] of raw.bots.entries()) {
      const odd = isPlainObject(entry) ? Object.keys(entry).find((k) => !ENTRY_KEYS.has(k)) : undefined;
      if (odd !== undefined) return refuse(`bots[${i}]: unknown key ${JSON.stringify(odd.slice(0, 40))} (expected ${[...ENTRY_KEYS].join(', ')})`);
    }
    if (raw.bots.length === 0) return refuse('the catalogue names no bot');
  }
  let catalogue: BotCatalogue;
  try {
    catalogue = normalizeBotCatalogue(raw);
  } catch (error) {
    if (error instanceof RuleError) return refuse(listed(error.problems));
    throw error;
  }
  const distrusted = catalogueTrustProblems(catalogue);
  if (distrusted.length > 0) return refuse(listed(distrusted));
  return { ok: true, catalogue, ...catalogueIdentity(catalogue) };
}

/** The first few problems, bounded for the feed's status line. */
function listed(problems: readonly string[]): string {
  return problems.slice(0, 5).join('; ').slice(0, 480);
}
