/**
 * Bot settings as rules-as-code writes them (docs/bots.md):
 *
 *   bots:
 *     search-engine: allow   # verified crawlers of the category pass every block rule
 *     ai-crawler: block
 *     spoofed: block         # a user agent claiming a verifiable crawler from outside its ranges
 *     unknown: monitor       # looks like a bot (isbot), but no catalogue entry names it
 *     googlebot: allow       # a bot id overrides its category
 *
 * Modes: allow | block | monitor | off; anything not named is off. `allow` only ever lets through a bot
 * proven by its IP (the catalogue's `verify` list): a user agent alone is a claim anyone can make.
 * A document without `bots` has bot detection off, and so has a file without the section.
 */
import { RESERVED_BOT_KEYS, isBotCategory, normalizeBotCatalogue, shippedBotCatalogue, type BotCatalogue } from '../bots/catalogue.js';
import { RuleError } from './rule-error.js';

export type BotMode = 'allow' | 'block' | 'monitor' | 'off';
export const BOT_MODES: readonly BotMode[] = ['allow', 'block', 'monitor', 'off'];

export interface BotSettings {
  /** Mode by key: a bot category, `spoofed`, `unknown`, or a catalogue bot id. Keys not present are off. */
  modes: Readonly<Record<string, BotMode>>;
  /** The catalogue the settings were compiled with; a rules file carries it. */
  catalogue: BotCatalogue;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a `bots` section (a parsed document part, or the hub's stored JSON) against `catalogue`
 * (the shipped one by default); null/undefined → null (off). Throws one RuleError listing every problem.
 */
export function normalizeBotSettings(raw: unknown, catalogue: BotCatalogue = shippedBotCatalogue()): BotSettings | null {
  if (raw === undefined || raw === null) return null;
  if (!isPlainObject(raw)) throw new RuleError('bots must be an object of modes by category or bot id, e.g. { ai-crawler: block }');
  const problems: string[] = [];
  const modes: Record<string, BotMode> = {};
  const byId = new Map(catalogue.bots.map((b) => [b.id, b]));
  for (const key of Object.keys(raw).sort()) {
    const value = raw[key];
    if (typeof value !== 'string' || !(BOT_MODES as readonly string[]).includes(value)) {
      problems.push(`bots.${key}: mode must be one of ${BOT_MODES.join(', ')}, got ${JSON.stringify(value)}`);
      continue;
    }
    const mode = value as BotMode;
    const bot = byId.get(key);
    if (bot === undefined && !RESERVED_BOT_KEYS.includes(key)) {
      problems.push(`bots: unknown key ${JSON.stringify(key)} (expected a category — ${[...RESERVED_BOT_KEYS].join(', ')} — or a bot id of the catalogue)`);
      continue;
    }
    if (mode === 'allow' && (key === 'spoofed' || key === 'unknown')) {
      problems.push(`bots.${key}: cannot be allowed (nothing proves who these are); use block, monitor or off`);
      continue;
    }
    if (mode === 'allow' && bot !== undefined && bot.verify === undefined) {
      problems.push(`bots.${key}: cannot be allowed by user agent alone (${key} publishes no address ranges); allow its IPs instead`);
      continue;
    }
    modes[key] = mode;
  }
  if (problems.length > 0) throw new RuleError(problems);
  return { modes, catalogue };
}

/** True when some key is not off. */
export function botsEnabled(settings: BotSettings | null): settings is BotSettings {
  return settings !== null && Object.values(settings.modes).some((m) => m !== 'off');
}

/** The mode a key has (off when not named). */
export function botMode(settings: BotSettings, key: string): BotMode {
  return settings.modes[key] ?? 'off';
}

/** The document form again: the modes, sorted by key (the catalogue is not part of a document). */
export function botSettingsToDocument(settings: BotSettings): Record<string, BotMode> {
  const doc: Record<string, BotMode> = {};
  for (const key of Object.keys(settings.modes).sort()) doc[key] = settings.modes[key]!;
  return doc;
}

/** Canonical JSON of the settings with their catalogue: what a rules file stores and its hash covers. */
export function botSettingsJson(settings: BotSettings): string {
  return JSON.stringify({ modes: botSettingsToDocument(settings), catalogue: settings.catalogue });
}

/** The settings back from a rules file's JSON, checked against the catalogue it carries. */
export function botSettingsFromJson(json: string): BotSettings {
  const parsed: unknown = JSON.parse(json);
  if (!isPlainObject(parsed)) throw new RuleError('bot settings must be an object with modes and catalogue');
  const settings = normalizeBotSettings(parsed.modes ?? {}, normalizeBotCatalogue(parsed.catalogue));
  return settings!;
}

export { isBotCategory };
