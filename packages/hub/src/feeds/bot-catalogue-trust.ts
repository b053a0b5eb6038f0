/**
 * What a bot catalogue may claim beyond its schema. A catalogue decides which requests pass every block
 * rule (a verified search engine) and which are blocked as spoofed, so a hostile or careless one could
 * allow a cloud provider's whole address space or block every browser. Two kinds of check, both pure:
 * - refused outright (catalogueTrustProblems): a bot verified by a list that is not a crawler list
 *   (crawler-lists.ts), or a token that ordinary browsers send;
 * - held for an admin (confirmationReason): a copy that drops more than half of the bots, or changes
 *   how a bot already in force is verified or classed.
 */
import type { BotCatalogue } from 'moat-waf';
import { crawlerLists } from './crawler-lists.js';

/** Shorter tokens are too likely to sit inside some browser's user agent (moat-waf itself allows three). */
export const MIN_TOKEN_CHARS = 4;

/** Real user agents of today's browsers, desktop and mobile; a token found in one would claim its users. */
const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0',
  'Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko',
];
/** Words every browser (and most bots) carry, whatever their versions: a token inside one names no bot. */
const COMMON_WORDS = ['mozilla', 'applewebkit', 'gecko', 'chrome', 'safari', 'compatible', 'khtml', 'like', 'windows', 'macintosh', 'linux', 'android', 'iphone', 'mobile', 'version', 'firefox'];

/** Versions change every few weeks: digits are folded so `chrome/132` is caught by a sample of Chrome 131. */
const foldDigits = (text: string) => text.toLowerCase().replace(/[0-9]+/g, '0');
const BROWSERS_FOLDED = BROWSERS.map(foldDigits);

/** Why a token (lower case, as the catalogue holds it) would claim ordinary browsers, or null. */
export function broadTokenProblem(token: string): string | null {
  if (token.trim().length < MIN_TOKEN_CHARS) return `is shorter than ${MIN_TOKEN_CHARS} characters`;
  const folded = foldDigits(token);
  if (BROWSERS_FOLDED.some((ua) => ua.includes(folded))) return 'is in the user agents of ordinary browsers';
  const core = token.replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  const word = COMMON_WORDS.find((w) => core.length > 0 && w.includes(core));
  if (word !== undefined) return `is part of "${word}", which every browser sends`;
  return null;
}

/** Every reason a catalogue may not be used, each naming its bot; empty when it may. */
export function catalogueTrustProblems(catalogue: BotCatalogue): string[] {
  const lists = crawlerLists();
  const problems: string[] = [];
  for (const bot of catalogue.bots) {
    if (bot.verify !== undefined && !lists.has(bot.verify)) {
      problems.push(`bot "${bot.id}": verify list "${bot.verify}" is not a crawler list (only a crawler's own published ranges may verify a bot)`);
    }
    for (const token of bot.tokens) {
      const problem = broadTokenProblem(token);
      if (problem !== null) problems.push(`bot "${bot.id}": token ${JSON.stringify(token)} ${problem}`);
    }
  }
  return problems;
}

/** Bots listed in a reason: enough to see what changed, short enough for the feed's status line. */
const NAMED = 5;

/**
 * Why an admin must confirm `offered` before it replaces `inForce`, or null when the feed may apply it.
 * A truncated feed would quietly stop naming the bots sites block; a changed verify list or category
 * decides which claims pass every block rule, so it is never applied by a feed alone.
 */
export function confirmationReason(inForce: BotCatalogue, offered: BotCatalogue): string | null {
  const reasons: string[] = [];
  if (offered.bots.length * 2 < inForce.bots.length) {
    reasons.push(`the copy names ${offered.bots.length} bots, ${inForce.bots.length} are in force (more than half would go)`);
  }
  const before = new Map(inForce.bots.map((b) => [b.id, b]));
  const changes: string[] = [];
  for (const bot of offered.bots) {
    const was = before.get(bot.id);
    if (was === undefined) continue;
    if (was.verify !== bot.verify) changes.push(`${bot.id} verify ${was.verify ?? 'none'} → ${bot.verify ?? 'none'}`);
    if (was.category !== bot.category) changes.push(`${bot.id} category ${was.category} → ${bot.category}`);
  }
  if (changes.length > 0) {
    const more = changes.length > NAMED ? ` and ${changes.length - NAMED} more` : '';
    reasons.push(`it changes how bots in force are verified or classed (${changes.slice(0, NAMED).join(', ')}${more})`);
  }
  return reasons.length === 0 ? null : reasons.join('; ');
}
