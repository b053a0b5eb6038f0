/**
 * Case-insensitive "contains any of these" over one request value, built once per rules file version.
 * Aho-Corasick keeps the cost flat in the number of patterns: at 10 k patterns a loop of
 * String.includes costs ~250–430 µs per value, the automaton ~1 µs (../shared/performance-notes.md).
 */
import { AhoCorasick } from '@monyone/aho-corasick/fast';
import { RecentValues } from '../text/recent-values.js';

/**
 * Real traffic repeats its values (a few user agents and paths make most requests), so results are
 * remembered per raw value. Measured in a server: at 10 k patterns the automaton pass over a typical
 * user agent is ~1.6 µs of a ~2.5 µs evaluation, a cache hit ~20 ns. Two generations bound the memory
 * (at most 2 × CACHE_ENTRIES values of at most CACHE_MAX_LENGTH characters) without LRU bookkeeping:
 * when the young map fills it becomes the old one, and a value found only in the old map is promoted.
 */
const CACHE_ENTRIES = 2048;
const CACHE_MAX_LENGTH = 256;
const MISS: readonly number[] = [];

export class SubstringMatcher {
  private readonly automaton: AhoCorasick | null;
  /** Lower-cased pattern → rule indices using it, in index order. */
  private readonly rulesByPattern = new Map<string, number[]>();
  private young = new Map<string, readonly number[]>();
  private old = new Map<string, readonly number[]>();
  /** In front of the maps: answers a repeated value without hashing it (see RecentValues). */
  private readonly recent = new RecentValues<readonly number[]>(512, CACHE_MAX_LENGTH);

  constructor(entries: Iterable<{ pattern: string; rule: number }>) {
    for (const { pattern, rule } of entries) {
      const p = pattern.toLowerCase();
      const list = this.rulesByPattern.get(p);
      if (list) list.push(rule);
      else this.rulesByPattern.set(p, [rule]);
    }
    this.automaton = this.rulesByPattern.size > 0 ? new AhoCorasick([...this.rulesByPattern.keys()]) : null;
  }

  get size(): number {
    return this.rulesByPattern.size;
  }

  /**
   * Rule indices whose pattern occurs in `text` (any case), in the order the matches end in the
   * text, or null when none does. The result is shared: callers must not change it.
   */
  match(text: string): readonly number[] | null {
    if (this.automaton === null || text.length === 0) return null;
    if (text.length > CACHE_MAX_LENGTH) return this.scan(text.toLowerCase());
    let hits = this.recent.get(text);
    if (hits !== undefined) return hits === MISS ? null : hits;
    hits = this.young.get(text);
    if (hits === undefined) {
      hits = this.old.get(text) ?? this.scan(text.toLowerCase()) ?? MISS;
      if (this.young.size >= CACHE_ENTRIES) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(text, hits);
    }
    this.recent.set(text, hits);
    return hits === MISS ? null : hits;
  }

  /** One automaton pass; the common miss costs only hasKeywordInText. */
  private scan(lowerText: string): number[] | null {
    const ac = this.automaton!;
    if (!ac.hasKeywordInText(lowerText)) return null;
    const out: number[] = [];
    for (const m of ac.matchInText(lowerText)) {
      for (const r of this.rulesByPattern.get(m.keyword)!) if (!out.includes(r)) out.push(r);
    }
    return out;
  }
}
