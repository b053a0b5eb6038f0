// stats().decisions counts each decision in one array slot (firewall/decision-counts.ts), and answers the
// decision object counted last again without its Map lookup: the engine's shared Passed decision makes
// nearly every request that object. Counts must stay exact whatever the order of shared and fresh
// decisions, with or without monitor matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecisionTally } from '../src/firewall/decision-counts.js';
import type { Decision } from '../src/engine/decision.js';

const NO_MONITORS: Decision['monitored'] = [];
const SHARED_PASSED: Decision = Object.freeze({ treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: NO_MONITORS });
const BLOCKED_PATH: Decision = { treatment: 'Blocked', category: 'bp', rule: '/admin', ruleId: 'p1', monitored: NO_MONITORS };
const fresh = (treatment: Decision['treatment'], category: Decision['category'], monitored: Decision['monitored'] = NO_MONITORS): Decision =>
  ({ treatment, category, rule: 'r', ruleId: 'id', monitored });
// The same object again with monitor matches: each repeat counts its matches too.
const SHARED_MONITORED: Decision = Object.freeze(fresh('Passed', 'passed', [{ category: 'bu', rule: 'curl', ruleId: 'u1' }]));
const POOL: (() => Decision)[] = [
  () => SHARED_MONITORED,
  () => SHARED_PASSED,
  () => SHARED_PASSED,
  () => BLOCKED_PATH,
  () => fresh('Passed', 'passed'),
  () => fresh('Blocked', 'brl'),
  () => fresh('Allowed', 'ai'),
  () => fresh('Passed', 'passed', [{ category: 'bu', rule: 'curl', ruleId: 'u1' }]),
  () => fresh('Blocked', 'bp', [{ category: 'bu', rule: 'curl', ruleId: 'u1' }, { category: 'bp', rule: '/x', ruleId: 'p2' }]),
];

test('decision counts: any order of shared and fresh decisions, with and without monitor matches, counts each once', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: POOL.length - 1 }), { maxLength: 200 }), (picks) => {
    const tally = new DecisionTally();
    const expected: Record<string, Record<string, number>> = { Allowed: {}, Blocked: {}, Passed: {} };
    const monitored: Record<string, number> = {};
    for (const pick of picks) {
      const decision = POOL[pick]!();
      tally.count(decision);
      const row = expected[decision.treatment]!;
      row[decision.category] = (row[decision.category] ?? 0) + 1;
      for (const m of decision.monitored) monitored[m.category] = (monitored[m.category] ?? 0) + 1;
    }
    assert.deepEqual(tally.decisions(), expected);
    assert.deepEqual(tally.monitoredMatches(), monitored);
  }), { numRuns: 300 });
});
