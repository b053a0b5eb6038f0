/**
 * Which catalogue bots a user agent claims to be: one pass of the substring automaton over the claim
 * text (claim-text.ts) finds every catalogue token at once, and `isbot` answers the generic "is this a
 * bot at all" only when the settings use `unknown`. Both are remembered per user agent, bounded.
 */
import { isbot } from 'isbot';
import { distinctPatterns, SubstringAutomaton } from '../engine/substring-automaton.js';
import { RecentValues } from '../text/recent-values.js';
import type { BotCatalogue } from './catalogue.js';
import { claimText } from './claim-text.js';

/** No bot: what browsers get. */
export const NOT_A_BOT: readonly number[] = Object.freeze([]);
/** A bot by isbot's judgement that no catalogue entry names. */
export const UNKNOWN_BOT: readonly number[] = Object.freeze([-1]);

/**
 * Memo bounds, as the substring matcher's (engine/substring-matcher.ts): a direct-mapped front without
 * hashing for the few user agents that make most traffic, then two generations of maps, so at most
 * 2 × MAP_ENTRIES user agents of at most MEMO_MAX_LENGTH characters are held, however many arrive.
 */
const MEMO_SLOTS = 512;
const MEMO_MAX_LENGTH = 512;
const MAP_ENTRIES = 2048;
/** Characters of a user agent isbot reads at most. */
const GENERIC_MAX_LENGTH = 512;

export class BotDetector {
  private readonly automaton: SubstringAutomaton;
  /** Automaton pattern id → catalogue index of the bot owning the token. */
  private readonly botOfPattern: Int32Array;
  private readonly recent = new RecentValues<readonly number[]>(MEMO_SLOTS, MEMO_MAX_LENGTH);
  private young = new Map<string, readonly number[]>();
  private old = new Map<string, readonly number[]>();
  /** User agents worked out (memo misses), for tests and the bench. */
  scans = 0;

  /** `generic`: ask isbot about user agents no catalogue token names (the `unknown` category is on). */
  constructor(catalogue: BotCatalogue, private readonly generic: boolean) {
    const owner = new Map<string, number>();
    catalogue.bots.forEach((b, i) => b.tokens.forEach((t) => owner.set(t, i)));
    const tokens = distinctPatterns(owner.keys());
    this.automaton = new SubstringAutomaton(tokens);
    this.botOfPattern = Int32Array.from(tokens, (p) => owner.get(p)!);
  }

  /** User agents currently remembered (at most 2 × 2048 beside the 512 direct slots). */
  get memoSize(): number {
    return this.young.size + this.old.size;
  }

  /** Catalogue indices the user agent claims (shared, never mutate), NOT_A_BOT, or UNKNOWN_BOT. */
  claims(userAgent: string): readonly number[] {
    if (userAgent.length > MEMO_MAX_LENGTH) return this.work(userAgent);
    let found = this.recent.get(userAgent);
    if (found !== undefined) return found;
    found = this.young.get(userAgent);
    if (found === undefined) {
      found = this.old.get(userAgent) ?? this.work(userAgent);
      if (this.young.size >= MAP_ENTRIES) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(userAgent, found);
    }
    this.recent.set(userAgent, found);
    return found;
  }

  private work(userAgent: string): readonly number[] {
    this.scans++;
    const ids = this.automaton.match(claimText(userAgent));
    // isbot's patterns cost ~50–100 ns per character, measured: an 8 KiB user agent would take ~0.4 ms.
    // Bots say who they are early; the claim scan above still reads the whole value.
    if (ids === null) return this.generic && isbot(userAgent.length > GENERIC_MAX_LENGTH ? userAgent.slice(0, GENERIC_MAX_LENGTH) : userAgent) ? UNKNOWN_BOT : NOT_A_BOT;
    const bots: number[] = [];
    for (const id of ids) {
      const b = this.botOfPattern[id];
      if (b !== undefined && !bots.includes(b)) bots.push(b);
    }
    return bots;
  }
}
