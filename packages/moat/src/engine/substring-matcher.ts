/**
 * Case-insensitive "contains any of these" over one request value, built once per rules file version.
 * Aho-Corasick keeps the cost flat in the number of patterns: at 10 k patterns a loop of
 * String.includes costs ~250–430 µs per value (docs/performance.md), the automaton a pass
 * over the value (see SubstringAutomaton).
 */
import { lowerCased } from '../text/fast-case.js';
import { RecentValues } from '../text/recent-values.js';
import { distinctPatterns, SubstringAutomaton, type SubstringAutomatonParts } from './substring-automaton.js';

/**
 * Real traffic repeats its values (a few user agents and paths make most requests), so results are
 * remembered per raw value, in two levels. First a direct-mapped memo (RecentValues): no hashing, the
 * last value per slot. Behind it two generations of maps bound the memory (at most 2 × MAP_ENTRIES
 * values of at most MEMO_MAX_LENGTH characters) without LRU bookkeeping: when the young map fills it
 * becomes the old one, and a value found only in the old map is promoted. A working set of a few
 * thousand paths is then answered without a scan; a value never seen costs one scan.
 */
const MEMO_SLOTS = 512;
const MEMO_MAX_LENGTH = 256;
const MAP_ENTRIES = 2048;
const MISS: readonly number[] = [];
/** Rules found in one value beyond which scan() remembers them in a Set rather than searching its list. */
const FEW_RULES = 16;

/** Everything a compiled matcher holds but its memo (see toParts). */
export interface SubstringMatcherParts {
  automaton: SubstringAutomatonParts | null;
  /** Rule indices of pattern id `p`: ruleIndex[ruleStart[p] .. ruleStart[p + 1]], in index order. */
  ruleStart: Int32Array;
  ruleIndex: Int32Array;
  patternCount: number;
}

export class SubstringMatcher {
  private readonly automaton: SubstringAutomaton | null;
  // Per automaton pattern id, the rule indices using that (lower-cased) pattern, as two flat arrays: one
  // small array per pattern would be 20 k more objects for every major GC of the app to mark.
  private readonly ruleStart: Int32Array;
  private readonly ruleIndex: Int32Array;
  private readonly patternCount: number;
  private readonly recent = new RecentValues<readonly number[]>(MEMO_SLOTS, MEMO_MAX_LENGTH);
  private young = new Map<string, readonly number[]>();
  private old = new Map<string, readonly number[]>();

  constructor(entries: Iterable<{ pattern: string; rule: number }>) {
    const rulesByPattern = new Map<string, number[]>();
    let ruleCount = 0;
    for (const { pattern, rule } of entries) {
      const p = pattern.toLowerCase();
      const list = rulesByPattern.get(p);
      if (list) list.push(rule);
      else rulesByPattern.set(p, [rule]);
      ruleCount++;
    }
    this.patternCount = rulesByPattern.size;
    const patterns = distinctPatterns(rulesByPattern.keys());
    this.automaton = patterns.length > 0 ? new SubstringAutomaton(patterns) : null;
    this.ruleStart = new Int32Array(patterns.length + 1);
    this.ruleIndex = new Int32Array(ruleCount);
    let at = 0;
    patterns.forEach((p, id) => {
      for (const rule of rulesByPattern.get(p)!) this.ruleIndex[at++] = rule;
      this.ruleStart[id + 1] = at;
    });
  }

  get size(): number {
    return this.patternCount;
  }

  /** The compiled matcher without its memo, for moving it to another thread; fromParts takes it back. */
  toParts(): SubstringMatcherParts {
    return { automaton: this.automaton?.toParts() ?? null, ruleStart: this.ruleStart, ruleIndex: this.ruleIndex, patternCount: this.patternCount };
  }

  static fromParts(parts: SubstringMatcherParts): SubstringMatcher {
    const automaton = parts.automaton === null ? null : SubstringAutomaton.fromParts(parts.automaton);
    // An empty matcher (no automaton to build) with the finished parts in place; its memo starts empty.
    return Object.assign(new SubstringMatcher([]), { automaton, ruleStart: parts.ruleStart, ruleIndex: parts.ruleIndex, patternCount: parts.patternCount });
  }

  /**
   * Rule indices whose pattern occurs in `text` (any case), in the order the matches end in the
   * text, or null when none does. The result is shared: callers must not change it.
   */
  match(text: string): readonly number[] | null {
    if (this.automaton === null || text.length === 0) return null;
    if (text.length > MEMO_MAX_LENGTH) return this.scan(lowerCased(text));
    let hits = this.recent.get(text);
    if (hits !== undefined) return hits === MISS ? null : hits;
    hits = this.young.get(text);
    if (hits === undefined) {
      hits = this.old.get(text) ?? this.scan(lowerCased(text)) ?? MISS;
      if (this.young.size >= MAP_ENTRIES) {
        this.old = this.young;
        this.young = new Map();
      }
      this.young.set(text, hits);
    }
    this.recent.set(text, hits);
    return hits === MISS ? null : hits;
  }

  /** One automaton pass; rule indices of the patterns found, each once, in the order the matches end. */
  private scan(lowerText: string): number[] | null {
    const ids = this.automaton!.match(lowerText);
    if (ids === null) return null;
    // Pattern ids index ruleStart by construction (one entry per pattern, plus one): the `!`s cost nothing.
    const out: number[] = [];
    // As in the automaton: past a few rules, a Set answers "listed already?", so a text meeting thousands
    // of patterns costs a pass over them rather than one over the list per rule.
    let listed: Set<number> | null = null;
    for (const id of ids) {
      for (let k = this.ruleStart[id]!, end = this.ruleStart[id + 1]!; k < end; k++) {
        const r = this.ruleIndex[k]!;
        if (listed !== null ? listed.has(r) : out.includes(r)) continue;
        out.push(r);
        if (listed !== null) listed.add(r);
        else if (out.length > FEW_RULES) listed = new Set(out);
      }
    }
    return out;
  }
}
