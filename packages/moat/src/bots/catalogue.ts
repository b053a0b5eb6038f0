/**
 * The bot catalogue: named bots, the user-agent tokens they send, their category, and for crawlers whose
 * operators publish address ranges the data-file list that proves a claim. It is data, not code: the
 * shipped copy is data/bots.json, a hub can replace it, and a rules file carries the one it was compiled
 * with, so every client of a site recognises the same bots. The shipped copy is read on first use
 * (shippedBotCatalogue, at the end): only compiling a rules document needs it (a rules file carries
 * its own copy), so serving processes never read it.
 */
import { readFileSync } from 'node:fs';
import { RuleError } from '../rules/rule-error.js';

/** Fixed in code: settings, reports and the dashboard name these, whatever the catalogue holds. */
export const BOT_CATEGORIES = [
  'search-engine', 'ai-crawler', 'ai-assistant', 'seo', 'monitoring', 'scanner', 'social-preview', 'archiver',
] as const;
export type BotCategory = (typeof BOT_CATEGORIES)[number];

export interface BotEntry {
  /** Lower-case id: `googlebot`. Reports name it as the deciding rule. */
  id: string;
  name: string;
  category: BotCategory;
  /** Lower-case substrings of the user agent that claim this bot. */
  tokens: readonly string[];
  /** The data-file IP list holding the bot's published ranges; absent when none are published. */
  verify?: string;
}

export interface BotCatalogue {
  /** Date or label of the catalogue's edition, for status and the dashboard. */
  updated: string;
  bots: readonly BotEntry[];
}

const ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** Same shape as data-file list names (data/read-sources.ts). */
const LIST_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const MAX_BOTS = 2000;
const MAX_TOKENS = 32;
const MIN_TOKEN = 3;
const MAX_TOKEN = 64;
/** Names in the `bots` settings that are not bot ids. */
export const RESERVED_BOT_KEYS: readonly string[] = [...BOT_CATEGORIES, 'spoofed', 'unknown'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isBotCategory(v: unknown): v is BotCategory {
  return typeof v === 'string' && (BOT_CATEGORIES as readonly string[]).includes(v);
}

/**
 * Validates a catalogue (the shipped file, a feed's download, a rules file's copy) into canonical form:
 * tokens lower-cased, entries sorted by id. One RuleError lists every problem. A token shorter than three
 * characters, or one two bots share, would misname ordinary browsers, so both are refused.
 */
export function normalizeBotCatalogue(raw: unknown): BotCatalogue {
  if (!isPlainObject(raw) || !Array.isArray(raw.bots)) throw new RuleError('a bot catalogue must be an object with a "bots" list');
  if (raw.bots.length > MAX_BOTS) throw new RuleError(`a bot catalogue holds at most ${MAX_BOTS} bots`);
  const updated = typeof raw.updated === 'string' ? raw.updated.slice(0, 64) : '';
  const problems: string[] = [];
  const ids = new Set<string>();
  const tokenOwner = new Map<string, string>();
  const bots: BotEntry[] = [];
  raw.bots.forEach((b, i) => {
    const where = `bots[${i}]`;
    if (!isPlainObject(b)) return void problems.push(`${where}: must be an object with id, category and tokens`);
    const id = b.id;
    if (typeof id !== 'string' || !ID.test(id)) return void problems.push(`${where}: id must be lower-case letters, digits and "-"`);
    if (RESERVED_BOT_KEYS.includes(id)) return void problems.push(`${where}: id ${JSON.stringify(id)} is a category name`);
    // Settings are looked up by bot id in plain objects: an id like "constructor" would read Object.prototype.
    if (id in Object.prototype) return void problems.push(`${where}: id ${JSON.stringify(id)} is a reserved word`);
    if (ids.has(id)) return void problems.push(`${where}: duplicate id ${JSON.stringify(id)}`);
    ids.add(id);
    if (!isBotCategory(b.category)) return void problems.push(`${where}: category must be one of ${BOT_CATEGORIES.join(', ')}`);
    if (!Array.isArray(b.tokens) || b.tokens.length === 0 || b.tokens.length > MAX_TOKENS) {
      return void problems.push(`${where}: tokens must be a list of 1 to ${MAX_TOKENS} strings`);
    }
    const tokens: string[] = [];
    for (const t of b.tokens) {
      if (typeof t !== 'string' || t.trim().length < MIN_TOKEN || t.length > MAX_TOKEN) {
        problems.push(`${where}: a token must be ${MIN_TOKEN} to ${MAX_TOKEN} characters, got ${JSON.stringify(t)}`);
        continue;
      }
      const token = t.toLowerCase();
      const owner = tokenOwner.get(token);
      if (owner !== undefined && owner !== id) problems.push(`${where}: token ${JSON.stringify(token)} is also ${owner}'s`);
      tokenOwner.set(token, id);
      if (!tokens.includes(token)) tokens.push(token);
    }
    const entry: BotEntry = { id, name: typeof b.name === 'string' ? b.name.slice(0, 120) : id, category: b.category, tokens };
    if (b.verify !== undefined && b.verify !== null) {
      if (typeof b.verify !== 'string' || !LIST_NAME.test(b.verify)) problems.push(`${where}: verify must be a list name`);
      else entry.verify = b.verify;
    }
    bots.push(entry);
  });
  if (problems.length > 0) throw new RuleError(problems.length > 50 ? [...problems.slice(0, 50), `… and ${problems.length - 50} more`] : problems);
  bots.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { updated, bots };
}

let shipped: BotCatalogue | null = null;

/** The catalogue shipped in the package (data/bots.json), read and checked once, on first use. */
export function shippedBotCatalogue(): BotCatalogue {
  // src/bots and dist/bots both sit two levels below the package root, where data/ is.
  shipped ??= normalizeBotCatalogue(JSON.parse(readFileSync(new URL('../../data/bots.json', import.meta.url), 'utf8')));
  return shipped;
}
