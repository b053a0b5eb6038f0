/**
 * The bot stage of one engine: a user agent's claims (memoised by the detector) weighed against the
 * client IP. A claim of a crawler that publishes its ranges is verified when the IP is in that list of
 * the data file, and spoofed when it is not. A list the data file lacks proves nothing either way: the
 * claim is then neither allowed nor called spoofed, so a missing feed never blocks a real crawler.
 */
import { labelOf, type DataSet } from '../data/data-set.js';
import { UNKNOWN_BOT } from './bot-detector.js';
import type { BotPolicy, BotVerdict } from './bot-policy.js';

export class BotCheck {
  /** By catalogue index: 1 when the bot's verify list is in the data file. */
  private readonly provable: Uint8Array;
  /** Claims of verifiable crawlers that could not be checked (no data file, or it lacks the list). */
  unprovable = 0;

  constructor(private readonly policy: BotPolicy, private readonly data: DataSet | null) {
    const lists = new Set(data?.listNames ?? []);
    this.provable = Uint8Array.from(policy.bots, (b) => (b.verify !== null && lists.has(b.verify) ? 1 : 0));
  }

  /**
   * The verdict for a request, or null. Order: a spoofed claim (when blocked), then a verified claim whose
   * mode is allow, then a claim whose mode is block, then monitor verdicts. `words`/`family` hold the
   * client IP as the engine parsed it (family 0: unparsable, which proves nothing).
   */
  run(userAgent: string, family: 0 | 4 | 6, words: Uint32Array): BotVerdict | null {
    const claims = this.policy.detector.claims(userAgent);
    if (claims.length === 0) return null;
    if (claims === UNKNOWN_BOT) return this.policy.unknown;
    const bots = this.policy.bots;
    let lists: readonly string[] | null = null;
    let spoofed: BotVerdict | null = null;
    let allowed: BotVerdict | null = null;
    let blocked: BotVerdict | null = null;
    let monitored: BotVerdict | null = null;
    for (let k = 0; k < claims.length; k++) {
      // Claims are catalogue indexes from the detector built with this policy: always in range.
      const b = claims[k]!;
      const bot = bots[b]!;
      let verified = false;
      if (bot.verify !== null) {
        if (this.provable[b] === 0) this.unprovable++;
        else {
          lists ??= this.listsOf(family, words);
          verified = lists.includes(bot.verify);
          if (!verified && spoofed === null && bot.spoofed !== null) spoofed = bot.spoofed;
        }
      }
      const v = bot.claimed;
      if (v === null) continue;
      if (v.action === 'allow') {
        if (verified) allowed ??= v;
      } else if (v.action === 'block') blocked ??= v;
      else monitored ??= v;
    }
    if (spoofed !== null && spoofed.action === 'block') return spoofed;
    if (spoofed === null && allowed !== null) return allowed;
    return blocked ?? spoofed ?? monitored;
  }

  /** The data-file lists holding the client IP (one seek, shared by every claim of the request). */
  private listsOf(family: 0 | 4 | 6, words: Uint32Array): readonly string[] {
    if (family === 0 || this.data === null) return [];
    const id = this.data.table.lookupParsed(family, words);
    return id < 0 ? [] : labelOf(this.data, id)?.lists ?? [];
  }
}
