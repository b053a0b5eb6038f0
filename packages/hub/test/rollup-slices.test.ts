// The rollup folds reports in slices, other work getting turns between them (one 50,000-report
// transaction held the SQLite hub's event loop over half a second on a week of made-up values). Pinned
// here without timing: how many reports are folded between two turns of the event loop, and that the
// dashboard's numbers still equal the raw reports when groups span slices and rollUp() calls.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ROLLUP_CHUNK } from '../src/store/report-rows.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { ROLLUP_SLICE } from '../src/store/sqlite/report-rollups.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore, ReportRecord, Totals } from '../src/store/store.js';
import { freshDatabase } from './support/postgres.js';

const HOUR = 3600;
const BASE = 1_700_002_800;
const HOURS = 3;

/** Report i: its hour, minute and values cycle with periods that cut across slices and calls. */
function report(i: number): ReportRecord {
  const kind = i % 10;
  const treatment = kind === 0 ? 'Blocked' : kind === 1 ? 'Allowed' : 'Passed';
  const path = `/p${i % 97}`;
  return {
    ts: BASE + (i % HOURS) * HOUR + (i % 1800), ip: `10.0.${(i * 7) % 50}.${i % 200}`, method: 'GET', host: 'h.test', path,
    parameter: '', userAgent: `ua-${i % 13}`, requestId: `r${i}`, treatment,
    category: kind === 0 ? 'bp' : kind === 1 ? 'ai' : 'passed', rule: kind === 0 ? path : kind === 1 ? '10.0.0.0/8' : '-',
    ruleId: null, monitored: i % 23 === 0 ? [{ category: 'bp', rule: '/x', rule_id: 'r1' }] : null, ipSource: null,
    country: i % 5 === 0 ? null : ['DE', 'FR', 'US'][i % 3]!,
    ...(treatment === 'Passed' && i % 17 === 0 ? { aggregateCount: 3 } : {}),
  };
}

function emptyTotals(): Totals {
  return { total: 0, blocked: 0, allowed: 0, passed: 0, monitored: 0 };
}

/** What the rollups must say, counted from the raw reports in JavaScript. */
function expected(records: readonly ReportRecord[]) {
  const totals = emptyTotals();
  const perHour = new Map<number, Totals>();
  const paths = new Map<string, { total: number; blocked: number }>();
  const ips = new Set<string>();
  for (const r of records) {
    const requests = r.aggregateCount ?? 1;
    const hour = r.ts - (r.ts % HOUR);
    if (!perHour.has(hour)) perHour.set(hour, emptyTotals());
    for (const t of [totals, perHour.get(hour)!]) {
      t.total += requests;
      if (r.treatment === 'Blocked') t.blocked++;
      if (r.treatment === 'Allowed') t.allowed++;
      if (r.treatment === 'Passed') t.passed += requests;
      if (r.monitored) t.monitored++;
    }
    const path = paths.get(r.path) ?? { total: 0, blocked: 0 };
    path.total += requests;
    if (r.treatment === 'Blocked') path.blocked++;
    paths.set(r.path, path);
    ips.add(r.ip);
  }
  return { totals, perHour, paths, uniqueIps: ips.size };
}

async function foldsExactly(store: HubStore): Promise<void> {
  const site = await store.createSite('sliced');
  // More than a whole rollUp() call, and slices that end inside every hour, minute and value.
  const count = ROLLUP_CHUNK + 3 * ROLLUP_SLICE + 7;
  const records = Array.from({ length: count }, (_, i) => report(i));
  for (let start = 0; start < count; start += 5_000) await store.insertReports(site.id, records.slice(start, start + 5_000));
  let folded = 0;
  let calls = 0;
  for (let n = await store.rollUp(); n > 0; n = await store.rollUp()) {
    folded += n;
    calls++;
  }
  assert.equal(folded, count, 'every report folded once');
  assert.equal(calls, 2, 'a call folds ROLLUP_CHUNK at most');

  const want = expected(records);
  const to = BASE + HOURS * HOUR;
  assert.deepEqual(await store.totals(site.id, BASE, to), want.totals);
  const series = await store.timeSeries(site.id, BASE, to, HOUR);
  assert.deepEqual(series.map(({ t, ...totals }) => [t, totals]), [...want.perHour].sort((a, b) => a[0] - b[0]));
  const top = await store.top(site.id, 'path', BASE, to, 200);
  assert.equal(top.length, want.paths.size);
  for (const entry of top) assert.deepEqual({ total: entry.total, blocked: entry.blocked, lowBy: entry.lowBy }, { ...want.paths.get(entry.value), lowBy: undefined }, entry.value);
  assert.equal(await store.uniqueIps(site.id, BASE, to), want.uniqueIps);
}

describe('rollup in slices', () => {
  it('SQLite: at most ROLLUP_SLICE reports are folded between two turns of the event loop', async () => {
    const store = SqliteStore.open(':memory:');
    try {
      const site = await store.createSite('turns');
      const count = 5 * ROLLUP_SLICE + 1;
      await store.insertReports(site.id, Array.from({ length: count }, (_, i) => report(i)));
      const watermark = store.db.prepare<[], number>('SELECT last_report_id FROM rollup_state WHERE id = 1').pluck();
      // Each turn the loop gives to other work, the watermark is read: what was folded since the last turn.
      const seen = [watermark.get()!];
      let rolling = true;
      const turn = () => {
        if (!rolling) return;
        seen.push(watermark.get()!);
        setImmediate(turn);
      };
      setImmediate(turn);
      const folded = await store.rollUp();
      rolling = false;
      seen.push(watermark.get()!);
      assert.equal(folded, count);
      const steps = seen.slice(1).map((w, i) => w - seen[i]!);
      assert.equal(steps.reduce((a, b) => a + b, 0), count);
      assert.ok(Math.max(...steps) <= ROLLUP_SLICE, `folded between two turns: ${steps.filter((s) => s > 0).join(', ')}`);
    } finally {
      await store.close();
    }
  });

  it('SQLite: the rollups equal the raw reports across slices and calls', async () => {
    const store = SqliteStore.open(':memory:');
    try {
      await foldsExactly(store);
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL: the rollups equal the raw reports across calls', async () => {
    const db = await freshDatabase('moat_slices');
    const store = await PostgresStore.open(db.url, { max: 4 });
    try {
      await foldsExactly(store);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
