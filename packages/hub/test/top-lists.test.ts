// Top lists: exact where a range is small; over larger ranges summed from each hour's and each finished
// day's 100 largest values, every count within its stated bound (store/top-heads.ts), the same in both
// stores. The bounds are checked against counts computed here from the reports sent.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { loadTopLists } from '../src/stats/overview.js';
import { windowFor, type RangeName } from '../src/stats/time-range.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { hourFloor } from '../src/store/report-rows.js';
import { migrate } from '../src/store/sqlite/migrate.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { TOP_DIMENSIONS, type HubStore, type ReportRecord, type TopDimension, type TopEntry } from '../src/store/store.js';
import {
  type Head, type HeadRow, compareValues, dayHead, headOrder, hourHead, topFromHeads,
} from '../src/store/top-heads.js';
import { overviewPage } from '../src/ui/pages/overview-page.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

const HOUR = 3600;
const DAY = 86_400;

describe('top lists from heads: the precision guarantee', () => {
  it('compares values in UTF-8 byte order (SQLite BINARY, PostgreSQL "C")', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      assert.equal(Math.sign(compareValues(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }), { numRuns: 2000 });
    assert.ok(compareValues('\u{1F600}', '\uFFFD') > 0, 'a code point above U+FFFF sorts after U+FFFD, as its bytes do');
  });

  // Hours of random counts, cut to heads of n values; some runs of hours become day heads. Every listed
  // count is at most lowBy below the true one, and a value left out has at most the last listed count
  // plus the sum of the pieces' floors; with nothing cut anywhere the list is the exact one.
  it('every count is within its bound, and no value left out has more than the last listed count plus the floors', () => {
    const hourArb = fc.dictionary(fc.constantFrom(...Array.from({ length: 24 }, (_, i) => `v${i}`)),
      fc.record({ total: fc.integer({ min: 1, max: 30 }), blockedShare: fc.integer({ min: 0, max: 100 }) }), { maxKeys: 24 });
    fc.assert(fc.property(fc.array(hourArb, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 12 }),
      fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), fc.boolean(),
      (hours, n, limit, runs, summarise) => {
        const exact = new Map<string, { total: number; blocked: number }>();
        const heads = hours.map((hour) => {
          const rows: HeadRow[] = Object.entries(hour).map(([value, c]) => ({ value, total: c.total, blocked: Math.floor((c.total * c.blockedShare) / 100), missed: 0 }));
          for (const r of rows) {
            const e = exact.get(r.value) ?? { total: 0, blocked: 0 };
            exact.set(r.value, { total: e.total + r.total, blocked: e.blocked + r.blocked });
          }
          return hourHead(rows.sort(headOrder).slice(0, n + 1).map((r) => [r.value, r.total, r.blocked] as const), n);
        });
        // Runs of hours summarised as days, or every hour read alone.
        const pieces: Head[] = [];
        for (let i = 0, r = 0; i < heads.length; r++) {
          const len = summarise ? runs[r % runs.length]! : 1;
          const run = heads.slice(i, i + len);
          pieces.push(run.length > 1 ? dayHead(run, n) : run[0]!);
          i += len;
        }
        const floors = pieces.reduce((sum, p) => sum + p.floor, 0);
        const list = topFromHeads(pieces, limit);
        for (const e of list) {
          const truth = exact.get(e.value)!;
          assert.ok(truth.total >= e.total && truth.total <= e.total + (e.lowBy ?? 0), `${e.value}: ${truth.total} vs ${JSON.stringify(e)}`);
          assert.ok(truth.blocked >= e.blocked && truth.blocked <= e.blocked + (e.lowBy ?? 0), `${e.value} blocked`);
          assert.ok((e.lowBy ?? 0) <= floors);
        }
        const listed = new Set(list.map((e) => e.value));
        const last = list.length === limit ? list[list.length - 1]!.total : 0;
        for (const [value, truth] of exact) {
          if (!listed.has(value)) assert.ok(truth.total <= last + floors, `${value} (${truth.total}) left out; last ${last}, floors ${floors}`);
        }
        if (floors === 0) {
          const expected = [...exact].map(([value, c]) => ({ value, ...c }))
            .sort((a, b) => b.total - a.total || compareValues(a.value, b.value)).slice(0, limit);
          assert.deepEqual(list, expected);
        }
      }), { numRuns: 500 });
  });
});

/** A fixed hour, 05:00 UTC: 7-day ranges end in a partial day and start in one. */
const END = 1_700_024_400;
const NOW = END - 1;
const HOURS = 8 * 24;

/** A shop's week and a day: 250 requests an hour, skewed over 3,000 paths, 800 addresses, 200 agents. */
function normalTraffic(): ReportRecord[] {
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  const rows: ReportRecord[] = [];
  for (let h = 0; h < HOURS; h++) {
    for (let i = 0; i < 250; i++) {
      const r = rnd();
      const ip = Math.floor(800 * rnd() ** 2);
      const blocked = rnd() < 0.05;
      rows.push({
        ts: END - (h + 1) * HOUR + Math.floor(rnd() * HOUR), ip: `198.51.${ip >> 8}.${ip & 255}`, method: 'GET', host: 'shop.test',
        path: `/page/${Math.floor(3000 * r ** 3)}`, parameter: '', userAgent: `agent-${Math.floor(200 * rnd() ** 3)}`, requestId: '',
        treatment: blocked ? 'Blocked' : 'Passed', category: blocked ? 'bp' : 'passed', rule: blocked ? `/page/${Math.floor(30 * rnd())}` : '-',
        ruleId: null, monitored: null, ipSource: null, country: ['DE', 'FR', 'US', 'NL'][Math.floor(4 * rnd() ** 2)]!,
      });
    }
  }
  return rows;
}

const dimValue: Record<TopDimension, (r: ReportRecord) => string | undefined> = {
  ip: (r) => r.ip, path: (r) => r.path, userAgent: (r) => r.userAgent, country: (r) => r.country ?? undefined,
  rule: (r) => (r.treatment === 'Passed' ? undefined : `${r.category}\t${r.rule}`),
};

/** Every value's requests and blocked requests in the hours of [from, to), counted from the reports. */
function exactCounts(reports: readonly ReportRecord[], dim: TopDimension, from: number, to: number): Map<string, { total: number; blocked: number }> {
  const counts = new Map<string, { total: number; blocked: number }>();
  for (const r of reports) {
    const value = dimValue[dim](r);
    if (value === undefined || r.ts < hourFloor(from) || r.ts >= to) continue;
    const c = counts.get(value) ?? { total: 0, blocked: 0 };
    c.total += 1;
    if (r.treatment === 'Blocked') c.blocked += 1;
    counts.set(value, c);
  }
  return counts;
}

function exactTop(counts: Map<string, { total: number; blocked: number }>, limit: number): TopEntry[] {
  return [...counts].map(([value, c]) => ({ value, ...c })).sort((a, b) => b.total - a.total || compareValues(a.value, b.value)).slice(0, limit);
}

describe('top lists of a normal site on SQLite and PostgreSQL', () => {
  const reports = normalTraffic();
  let db: TestDatabase;
  let stores: Array<{ name: string; store: HubStore; siteId: number }> = [];

  before(async () => {
    db = await freshDatabase('moat_top_lists');
    for (const [name, store] of [['SQLite', SqliteStore.open(':memory:')], ['PostgreSQL', await PostgresStore.open(db.url, { max: 2 })]] as const) {
      const site = await store.createSite('shop');
      for (let i = 0; i < reports.length; i += 5000) await store.insertReports(site.id, reports.slice(i, i + 5000));
      while ((await store.rollUp()) > 0);
      // The timer's calls with nothing new to fold summarise the finished days.
      for (let i = 0; i < 40; i++) await store.rollUp();
      stores.push({ name, store, siteId: site.id });
    }
  });
  after(async () => {
    for (const s of stores) await s.store.close();
    stores = [];
    await db?.drop();
  });

  it('up to 20,000 hourly rows a list is the exact GROUP BY; above, every count is within its bound and the values that stand out are listed', async () => {
    let summed = 0;
    for (const { name, store, siteId } of stores) {
      for (const range of ['1h', '6h', '24h', '7d', '30d'] as RangeName[]) {
        const w = windowFor(range, NOW);
        for (const dim of TOP_DIMENSIONS) {
          const counts = exactCounts(reports, dim, w.from, w.to);
          const rows = [...new Set(reports.filter((r) => r.ts >= hourFloor(w.from) && r.ts < w.to && dimValue[dim](r) !== undefined)
            .map((r) => `${hourFloor(r.ts)} ${dimValue[dim](r)}`))].length;
          const list = await store.top(siteId, dim, w.from, w.to, 10);
          const label = `${name} ${range} ${dim}`;
          if (rows <= 20_000) {
            assert.deepEqual(list, exactTop(counts, 10), label);
            continue;
          }
          summed++;
          for (const e of list) {
            const truth = counts.get(e.value)!;
            assert.ok(truth.total >= e.total && truth.total <= e.total + (e.lowBy ?? 0), `${label} ${e.value}: ${truth.total} vs ${JSON.stringify(e)}`);
            assert.ok(truth.blocked >= e.blocked && truth.blocked <= e.blocked + (e.lowBy ?? 0), `${label} ${e.value} blocked`);
          }
          // The largest stands out in every hour: listed first, exact; the next ones are listed.
          assert.deepEqual(list[0], exactTop(counts, 1)[0], label);
          for (const e of exactTop(counts, 5)) assert.ok(list.some((l) => l.value === e.value), `${label}: ${e.value} listed`);
        }
      }
    }
    assert.ok(summed >= 4, `${summed} lists read from hour and day heads`);
  });

  it('both stores give the same lists, bounds included', async () => {
    const [a, b] = stores;
    for (const range of ['24h', '7d', '30d'] as RangeName[]) {
      assert.deepEqual(await loadTopLists(a!.store, a!.siteId, range, NOW, 100), await loadTopLists(b!.store, b!.siteId, range, NOW, 100), range);
    }
  });

  it('the overview marks a count that may be low with ≥ and says by how much at most', async () => {
    const { store, siteId } = stores[0]!;
    const top = await loadTopLists(store, siteId, '7d', NOW, 10);
    const low = TOP_DIMENSIONS.flatMap((dim) => top[dim]).find((e) => e.lowBy);
    assert.ok(low, 'a 7-day list of this site has a count that may be low');
    const html = overviewPage({
      user: { email: 'a@x.test', csrfToken: 't' }, site: { id: siteId, name: 'shop', createdAt: 0 }, sites: [], range: '7d',
      overview: { window: windowFor('7d', NOW), totals: { total: 0, blocked: 0, allowed: 0, passed: 0, monitored: 0 }, uniqueIps: 0,
        series: { t: [], total: [], blocked: [], allowed: [], passed: [], monitored: [], step: 3600, current: -1 } },
      top, countryLookup: true, rules: [], now: NOW * 1000,
    });
    assert.match(html, new RegExp(`<td class="num" data-low-by="${low.lowBy}" title="up to ${low.lowBy!.toLocaleString('en-US')} more">≥ ${low.total.toLocaleString('en-US')}</td>`));
    assert.match(html, /a count marked ≥ may be low, by at most what its tooltip says/);
  });

  it('retention deletes a day\'s summary with the last of its hours', async () => {
    for (const { name, store, siteId } of stores) {
      const summarisedDays = async () => name === 'SQLite'
        ? (store as SqliteStore).db.prepare('SELECT count(DISTINCT day) FROM day_top_floor WHERE site_id = ?').pluck().get(siteId) as number
        : Number((await (store as PostgresStore).pool.query('SELECT count(DISTINCT day) AS n FROM day_top_floor WHERE site_id = $1', [siteId])).rows[0].n);
      const days = await summarisedDays();
      assert.ok(days >= 8, `${name}: ${days} days`);
      // Rollups are kept 3 days back from the end: the days ending before that go, the one cut in two stays.
      const cutoff = END - 3 * DAY;
      await store.prune({ rawSeconds: 10 * DAY, rollupSeconds: 3 * DAY }, END);
      const kept = await summarisedDays();
      const firstKept = Math.floor((cutoff - DAY) / DAY) + 1;
      assert.equal(kept, Math.floor((END - 1) / DAY) - firstKept + 1, `${name}: ${kept} days kept`);
    }
  });
});

describe('upgrading a SQLite database of schema 18', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-top-upgrade-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('marks every day with rollups pending; the rollups summarise the finished ones and the lists read them', async () => {
    const file = join(scratch, 'hub.db');
    const old = new Database(file);
    migrate(old, MIGRATIONS.filter((m) => m.version <= 18));
    old.prepare("INSERT INTO sites (id, name, created_at) VALUES (1, 'shop', 0)").run();
    // Three days of rollups as schema 18 kept them: 300 paths an hour, /page/k seen (300 − k) times.
    const hours = 3 * 24;
    const first = hourFloor(END) - hours * HOUR;
    const put = old.prepare("INSERT INTO hour_top (site_id, dim, hour, value, total, blocked) VALUES (1, 'path', ?, ?, ?, 0)");
    old.transaction(() => {
      for (let h = 0; h < hours; h++) {
        const hour = first + h * HOUR;
        for (let k = 0; k < 300; k++) put.run(hour, `/page/${k}`, 300 - k);
        old.prepare("INSERT INTO hour_dim_size (site_id, dim, hour, distinct_values) VALUES (1, 'path', ?, 300)").run(hour);
        old.prepare('INSERT INTO minute_stats (site_id, minute, total, blocked, allowed, passed, monitored) VALUES (1, ?, 45150, 0, 0, 45150, 0)').run(hour);
      }
    })();
    old.close();

    const store = SqliteStore.open(file);
    try {
      const pending = () => store.db.prepare('SELECT count(*) FROM day_top_floor WHERE floor IS NULL').pluck().get() as number;
      const days = new Set(Array.from({ length: hours }, (_, h) => Math.floor((first + h * HOUR) / DAY))).size;
      assert.equal(pending(), days, 'one pending day per day with path rows');
      for (let i = 0; i < 20; i++) await store.rollUp();
      assert.equal(pending(), 1, 'only the last day, which the site has not moved past, waits');
      const top = await store.top(1, 'path', first, first + hours * HOUR, 5);
      // Each hour keeps its 100 largest: /page/0 … /page/4 are exact.
      assert.deepEqual(top, [0, 1, 2, 3, 4].map((k) => ({ value: `/page/${k}`, total: (300 - k) * hours, blocked: 0 })));
    } finally {
      await store.close();
    }
  });
});
