/**
 * Case-insensitive "contains any of these" over one request value, built once per rules file version.
 * Aho-Corasick keeps the cost flat in the number of patterns: at 10 k patterns a loop of
 * String.includes costs ~250–430 µs per value, the automaton ~1 µs (../shared/performance-notes.md).
 */
import { AhoCorasick } from '@monyone/aho-corasick/fast';

export class SubstringMatcher {
  private readonly automaton: AhoCorasick | null;
  /** Lower-cased pattern → rule indices using it, in index order. */
  private readonly rulesByPattern = new Map<string, number[]>();

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
   * Rule indices whose pattern occurs in `lowerText` (already lower-cased), in the order the matches
   * end in the text, or null when none does. The common miss costs one automaton pass.
   */
  match(lowerText: string): number[] | null {
    const ac = this.automaton;
    if (ac === null || lowerText.length === 0 || !ac.hasKeywordInText(lowerText)) return null;
    const out: number[] = [];
    for (const m of ac.matchInText(lowerText)) {
      for (const r of this.rulesByPattern.get(m.keyword)!) if (!out.includes(r)) out.push(r);
    }
    return out;
  }
}
