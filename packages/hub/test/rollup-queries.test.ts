import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { addToSketch, estimate, mergeInto, newSketch } from '../src/stats/hyperloglog.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { ReportRecord } from '../src/store/store.js';

function report(ts: number, ip: string, blocked: boolean): ReportRecord {
  return {
    ts, ip, method: 'GET', host: 'h', path: `/p${ip.length % 7}`, parameter: '', userAgent: 'ua', requestId: '', treatment: blocked ? 'Blocked' : 'Passed',
    category: blocked ? 'bi' : 'passed', rule: blocked ? ip : '-', ruleId: null, monitored: null, ipSource: null, country: null,
  };
}

describe('rollup queries over large ranges', () => {
  it('HyperLogLog estimates within a few percent and merges as a union', () => {
    const a = newSketch();
    const b = newSketch();
    for (let i = 0; i < 30_000; i++) addToSketch(a, `10.0.${i >> 8}.${i & 255}#${i}`);
    for (let i = 15_000; i < 45_000; i++) addToSketch(b, `10.0.${i >> 8}.${i & 255}#${i}`);
    assert.ok(Math.abs(estimate(a) - 30_000) / 30_000 < 0.05, `estimate ${estimate(a)}`);
    mergeInto(a, b);
    assert.ok(Math.abs(estimate(a) - 45_000) / 45_000 < 0.05, `union ${estimate(a)}`);
    const small = newSketch();
    for (const ip of ['1.1.1.1', '2.2.2.2', '1.1.1.1']) addToSketch(small, ip);
    assert.equal(estimate(small), 2);
  });

  it('top lists stay exact and unique IPs close when the candidate pass and sketches are used', async () => {
    const store = SqliteStore.open(':memory:');
    try {
      const site = await store.createSite('big');
      const base = 1_800_000_000 - (1_800_000_000 % 3600);
      const rows: ReportRecord[] = [];
      // 4 hours, ~12 k distinct IPs per hour (48 k hour rows), skewed so a few IPs are heavy.
      for (let i = 0; i < 120_000; i++) {
        const r = ((i * 2654435761) >>> 0) / 2 ** 32;
        const ip = Math.floor(40_000 * r * r * r);
        rows.push(report(base + (i % 4) * 3600 + (i % 3000), `10.${ip >> 16}.${(ip >> 8) & 255}.${ip & 255}`, i % 11 === 0));
      }
      await store.insertReports(site.id, rows);
      while ((await store.rollUp()) > 0);
      const from = base;
      const to = base + 4 * 3600;
      const plain = store.db.prepare(`SELECT value, sum(total) AS total, sum(blocked) AS blocked FROM hour_top
        WHERE site_id = ? AND dim = 'ip' AND hour >= ? AND hour < ? GROUP BY value ORDER BY total DESC, value LIMIT 10`).all(site.id, from, to);
      assert.deepEqual(await store.top(site.id, 'ip', from, to, 10), plain);
      const exact = store.db.prepare(`SELECT count(DISTINCT ip) FROM reports WHERE site_id = ?`).pluck().get(site.id) as number;
      const estimated = await store.uniqueIps(site.id, from, to);
      assert.ok(exact > 20_000, 'large enough for the sketch path');
      assert.ok(Math.abs(estimated - exact) / exact < 0.05, `unique IPs ${estimated} vs ${exact}`);
      // One hour alone is below the exact-count limit: the count is exact.
      const oneHour = store.db.prepare(`SELECT count(DISTINCT ip) FROM reports WHERE site_id = ? AND ts >= ? AND ts < ?`).pluck().get(site.id, base, base + 3600);
      assert.equal(await store.uniqueIps(site.id, base, base + 3600), oneHour);
    } finally {
      await store.close();
    }
  });
});
