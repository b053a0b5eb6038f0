/**
 * What a bot catalogue may claim beyond its schema. A catalogue decides which requests pass every block
 * rule (a verified search engine) and which are blocked as spoofed, so a hostile or careless one could
 * allow a cloud provider's whole address space or block every browser. Two kinds of check, both pure:
 * - refused outright (catalogueTrustProblems): a bot verified by a list that is not a crawler list
 *   (crawler-lists.ts), or a token that ordinary browsers send;
 * - held for an admin (confirmationReason): a copy that drops more than half of the bots, changes
 *   how a bot already in force is verified or classed, moves a token to another bot, or adds a token to
 *   a verified bot.
 */
import type { BotCatalogue, BotEntry } from 'moat-waf';
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
  'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (X11; Linux aarch64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/131.0.2903.68 Version/18.0 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 YaBrowser/24.12.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18',
  'Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/490.0.0.33.108;FBBV/672131231;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/18.1;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 361.0.0.35.82 (iPhone14,5; iOS 18_1; en_US; en; scale=3.00; 1170x2532; 674117118)',
  'Mozilla/5.0 (Linux; U; Android 12; en-US; SM-A127F Build/SP1A.210812.016) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.80 UCBrowser/13.7.0.1316 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; 23106RN0DA Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 XiaoMi/MiuiBrowser/14.22.0-gn',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Whale/4.29.282.14',
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
 * decides which claims pass every block rule, so it is never applied by a feed alone. Compared by token
 * as well as by id: a token that moves to another bot (a renamed `gptbot` in `search-engine`) changes
 * who the claim is as surely as an edit of the bot, and a token that a verified bot newly claims makes
 * every sender outside its list `spoofed`, so both wait for an admin too.
 */
export function confirmationReason(inForce: BotCatalogue, offered: BotCatalogue): string | null {
  const reasons: string[] = [];
  if (offered.bots.length * 2 < inForce.bots.length) {
    reasons.push(`the copy names ${offered.bots.length} bots, ${inForce.bots.length} are in force (more than half would go)`);
  }
  const before = new Map(inForce.bots.map((b) => [b.id, b]));
  const ownerBefore = new Map<string, BotEntry>();
  for (const bot of inForce.bots) for (const token of bot.tokens) ownerBefore.set(token, bot);
  const changes: string[] = [];
  for (const bot of offered.bots) {
    const was = before.get(bot.id);
    if (was !== undefined) {
      if (was.verify !== bot.verify) changes.push(`${bot.id} verify ${was.verify ?? 'none'} → ${bot.verify ?? 'none'}`);
      if (was.category !== bot.category) changes.push(`${bot.id} category ${was.category} → ${bot.category}`);
    }
    for (const token of bot.tokens) {
      const owner = ownerBefore.get(token);
      if (owner === undefined) {
        if (bot.verify !== undefined) changes.push(`${bot.id} newly claims "${token}", verified by ${bot.verify}`);
      } else if (owner.id !== bot.id) {
        changes.push(`"${token}" moves from ${owner.id} to ${bot.id}`);
      }
    }
  }
  if (changes.length > 0) {
    const more = changes.length > NAMED ? ` and ${changes.length - NAMED} more` : '';
    reasons.push(`it changes how bots in force are verified, classed or claimed (${changes.slice(0, NAMED).join(', ')}${more})`);
  }
  return reasons.length === 0 ? null : reasons.join('; ');
}
