/**
 * A site's verified-bot settings (moat-waf's `bots` section): stored as JSON per site (modes by
 * category), validated by the engine's own normaliser against the catalogue, compiled into the site's
 * Moat rules file with that catalogue (Wafris files cannot carry them: the gem has no bot detection).
 * A site without stored settings has bot detection off.
 */
import {
  BOT_CATEGORIES, BOT_MODES, RuleError, botSettingsToDocument, normalizeBotSettings,
  type BotCatalogue, type BotMode, type BotSettings,
} from 'moat-waf';
import { catalogueInForce } from '../feeds/bot-catalogue-in-force.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import { HttpError } from '../server/http-error.js';
import type { HubStore } from '../store/store.js';

export type { BotMode, BotSettings };
export { BOT_MODES };

/** The keys the Rules page sets in one click: every category, then the two that are not catalogue categories. */
export const BOT_KEYS: readonly string[] = [...BOT_CATEGORIES, 'spoofed', 'unknown'];

/** The catalogue sites are compiled with: the one a `bots` feed delivered (in the store), else the shipped one. */
export async function hubBotCatalogue(store: HubStore): Promise<BotCatalogue> {
  return (await catalogueInForce(store)).catalogue;
}

/**
 * The site's settings; null when none are stored or the stored JSON no longer validates (bots off).
 * A setting for a bot id the catalogue in force no longer names is left out, not the whole settings:
 * a feed that drops one bot must not switch off a site's every other bot block.
 */
export async function siteBotSettings(store: HubStore, siteId: number, catalogue?: BotCatalogue): Promise<BotSettings | null> {
  const json = await store.getBotSettings(siteId);
  if (json === undefined) return null;
  const bots = catalogue ?? await hubBotCatalogue(store);
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    const known = new Set<string>([...BOT_KEYS, ...bots.bots.map((b) => b.id)]);
    const kept = Object.fromEntries(Object.entries(parsed).filter(([key]) => known.has(key)));
    return normalizeBotSettings(kept, bots);
  } catch {
    return null;
  }
}

/** Stores new settings, recompiles the site's files (clients get them on their next download), audits. */
export async function saveSiteBotSettings(
  parts: { store: HubStore; builder: RulesBuilder; audit: AuditLog; now: () => number },
  siteId: number, settings: BotSettings, actor: Actor,
): Promise<void> {
  const before = await siteBotSettings(parts.store, siteId);
  await parts.store.saveBotSettings(siteId, JSON.stringify(botSettingsToDocument(settings)), Math.floor(parts.now() / 1000));
  await parts.builder.rebuild(siteId);
  await parts.audit.record(actor, 'bots.update', {
    siteId, target: 'bots', before: before === null ? {} : botSettingsToDocument(before), after: botSettingsToDocument(settings),
  });
}

/** `current` with one key set to `mode` (the Rules page's one-click form); 400 naming the problem. */
export function withBotMode(current: BotSettings | null, key: unknown, mode: unknown, catalogue: BotCatalogue): BotSettings {
  if (typeof key !== 'string' || !BOT_KEYS.includes(key)) throw new HttpError(400, `unknown bot category ${JSON.stringify(String(key).slice(0, 40))}`, 'invalid_request');
  const modes: Record<string, unknown> = { ...(current === null ? {} : botSettingsToDocument(current)), [key]: mode };
  try {
    return normalizeBotSettings(modes, catalogue)!;
  } catch (error) {
    if (error instanceof RuleError) throw new HttpError(400, error.problems.join('; '), 'invalid_request');
    throw error;
  }
}

/** Whether allowing `key` can let anything through: some bot of the category publishes its ranges. */
export function allowable(key: string, catalogue: BotCatalogue): boolean {
  return catalogue.bots.some((b) => b.category === key && b.verify !== undefined);
}
