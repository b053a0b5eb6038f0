/**
 * Bot settings compiled once per rules file: the detector, and for every catalogue bot the verdicts it
 * can get, made up front so a bot request allocates nothing to be decided.
 */
import type { Category } from '../engine/decision.js';
import { botMode, botsEnabled, type BotMode, type BotSettings } from '../rules/bot-settings.js';
import { BotDetector } from './bot-detector.js';

/** What the bot stage says about a request: the engine turns it into a decision or a monitor match. */
export interface BotVerdict {
  action: 'allow' | 'block' | 'monitor';
  category: Category;
  /** The bot id (`googlebot`), or `unknown`: the `rule` reports carry. */
  rule: string;
  /** `bots.<key>`: the settings key that chose the mode (`bots.search-engine`, `bots.googlebot`, `bots.spoofed`). */
  ruleId: string;
}

interface BotVerdicts {
  /** Verdict for a claim of this bot (null when its mode is off); an `allow` applies only once verified. */
  claimed: BotVerdict | null;
  /** Verdict when the claim fails verification (null when `spoofed` is off). */
  spoofed: BotVerdict | null;
  /** The data-file list proving the bot, or null. */
  verify: string | null;
}

export interface BotPolicy {
  settings: BotSettings;
  detector: BotDetector;
  /** By catalogue index. */
  bots: readonly BotVerdicts[];
  /** For user agents isbot calls a bot but no entry names (null when `unknown` is off). */
  unknown: BotVerdict | null;
}

function verdict(mode: BotMode, category: Category, rule: string, key: string): BotVerdict | null {
  if (mode === 'off') return null;
  return Object.freeze({ action: mode, category, rule, ruleId: `bots.${key}` });
}

export function compileBotPolicy(settings: BotSettings | null): BotPolicy | null {
  if (!botsEnabled(settings)) return null;
  const spoofedMode = botMode(settings, 'spoofed');
  const bots = settings.catalogue.bots.map((b): BotVerdicts => {
    // A bot's own id overrides its category.
    const key = settings.modes[b.id] !== undefined ? b.id : b.category;
    const mode = botMode(settings, key);
    return {
      claimed: verdict(mode, `bot-${b.category}`, b.id, key),
      spoofed: b.verify === undefined || spoofedMode === 'allow' ? null : verdict(spoofedMode, 'bot-spoofed', b.id, 'spoofed'),
      verify: b.verify ?? null,
    };
  });
  const unknownMode = botMode(settings, 'unknown');
  return {
    settings,
    detector: new BotDetector(settings.catalogue, unknownMode !== 'off'),
    bots,
    unknown: unknownMode === 'allow' ? null : verdict(unknownMode, 'bot-unknown', 'unknown', 'unknown'),
  };
}
