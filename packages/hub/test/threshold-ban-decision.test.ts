// The threshold preview's bans equal the hub's: one sequence of reports is counted by a real hub's
// BanService (its clock stepped to each report's time, bans stored in its SQLite file) and replayed by
// the preview's ThresholdBacktest; both judge crossings with decideBan, so the bans, their times and
// every refusal (allow list, the site's cap, the rule's bans per minute) must come out the same.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { HUB_ACTOR } from '../src/audit/actor.js';
import { banKeyLabel } from '../src/thresholds/ban-key.js';
import { ThresholdBacktest, type BacktestRecord } from '../src/thresholds/threshold-preview-backtest.js';
import type { ThresholdRuleInput } from '../src/thresholds/threshold-types.js';
import { startHubWithSite } from './support/hub-fixture.js';

const T0 = 1_800_000_000;
const MAX_ACTIVE_BANS = 4;
const ALLOWED = '203.0.113.0/24';
/** Hot first (the pick is skewed): an allow-listed address among the hottest. */
const IPS = ['198.51.100.1', '203.0.113.7', ...Array.from({ length: 9 }, (_, i) => `198.51.100.${i + 2}`), '203.0.113.9'];
const API_KEYS = Array.from({ length: 8 }, (_, i) => i.toString(16).repeat(32));

/** Deterministic pseudo-random numbers in [0, 1): the same sequence every run. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** One report a second for ten minutes from a few hot addresses; half of them carry an API key hash. */
function sequence(): BacktestRecord[] {
  const random = randomSource(19);
  return Array.from({ length: 600 }, (_, i) => {
    const ip = IPS[Math.floor(IPS.length * random() * random())]!;
    const hash = random() < 0.5 ? API_KEYS[Math.floor(API_KEYS.length * random())]! : null;
    return {
      ts: T0 + i, ip, method: 'GET', path: '/login', userAgent: 'bench', treatment: 'Passed', status: null, aggregateCount: 1,
      keys: hash === null ? null : [{ kind: 'header:x-api-key', hash }],
    };
  });
}

const RULES: { name: string; rule: ThresholdRuleInput }[] = [
  {
    name: 'by IP',
    rule: {
      name: 'login flood', condition: { requests: 'any', method: null, path: '/login', pathMatch: 'exact', status: null },
      windowSeconds: 60, threshold: 3, key: 'ip', banSeconds: 90, mode: 'enforce', maxBansPerMinute: 2,
    },
  },
  {
    name: 'by reported API key hash (else IP)',
    rule: {
      name: 'key flood', condition: { requests: 'any', method: null, path: '/login', pathMatch: 'exact', status: null },
      windowSeconds: 60, threshold: 3, key: 'header:x-api-key', banSeconds: 90, mode: 'enforce', maxBansPerMinute: 2,
    },
  },
];

describe('the threshold preview bans what the hub would ban', () => {
  for (const { name, rule } of RULES) {
    it(`${name}: the same bans at the same times, and the same allow-list, cap and rate refusals`, async () => {
      let clock = T0 * 1000;
      const { hub, client, siteId } = await startHubWithSite('ban decision', { now: () => clock, thresholds: { maxActiveBansPerSite: MAX_ACTIVE_BANS } });
      try {
        const allow = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: ALLOWED, action: 'allow' });
        assert.equal(allow.status, 201, await allow.text());
        const bans = hub.context.thresholds;
        await bans.createRule(siteId, rule, HUB_ACTOR);
        const backtest = new ThresholdBacktest(rule, { allowRanges: await bans.allowRanges(siteId), maxActiveBans: MAX_ACTIVE_BANS, maxCounterKeys: bans.options.maxCounterKeys });
        for (const record of sequence()) {
          clock = record.ts * 1000;
          bans.observe(siteId, [{ ...record }]);
          await bans.idle();
          backtest.add(record);
        }
        const stats = bans.stats();
        const preview = backtest.result();
        // Each way of refusing happened, so the comparison covers it.
        assert.ok(preview.refused.allowListed > 0 || rule.key !== 'ip', JSON.stringify(preview.refused));
        assert.ok(preview.refused.cap > 0, JSON.stringify(preview.refused));
        assert.ok(preview.refused.rate > 0, JSON.stringify(preview.refused));
        assert.ok(preview.topKeys.some((k) => k.bans > 1), 'a key banned again after its ban ended');
        assert.deepEqual(
          { crossings: preview.crossings, bans: preview.bans, ...preview.refused },
          { crossings: stats.crossings, bans: stats.bans, allowListed: stats.allowListed, cap: stats.refusedByCap, rate: stats.refusedByRate },
        );
        const stored = await hub.store.thresholds.listBans(siteId, { mode: 'enforce', limit: 1000 });
        assert.equal(stored.length, preview.bans);
        const perKey = new Map<string, { firstBanAt: number; bans: number }>();
        for (const ban of stored) {
          const label = banKeyLabel(ban.key);
          const seen = perKey.get(label);
          perKey.set(label, { firstBanAt: Math.min(seen?.firstBanAt ?? Infinity, ban.createdAt), bans: (seen?.bans ?? 0) + 1 });
        }
        assert.ok(preview.topKeys.length < 20, 'every banned key is listed');
        assert.deepEqual(
          new Map(preview.topKeys.map((k) => [k.key, { firstBanAt: k.firstBanAt, bans: k.bans }])),
          perKey,
        );
      } finally {
        await hub.stop();
      }
    });
  }
});
