/**
 * Ingestion into the PostgreSQL store against the SQLite store, measured in the same run:
 *   node --import tsx packages/hub/test/postgres-ingest-bench.ts [--batches N]
 * Batches of 1,000 reports through HubStore.insertReports (what an upsync does), then the rollup of all
 * of them. Median of 5 rounds; PostgreSQL from MOAT_TEST_POSTGRES_URL or scripts/ensure-postgres.sh.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore, ReportRecord } from '../src/store/store.js';
import { freshDatabase } from './support/postgres.js';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '30' } } });
const BATCHES = Math.max(1, Math.min(1000, Number(values.batches)));
const BATCH = 1000;
const ROUNDS = 5;

function batch(seed: number): ReportRecord[] {
  const base = 1_700_002_800;
  return Array.from({ length: BATCH }, (_, i) => {
    const n = seed * BATCH + i;
    return {
      ts: base + (n % 7200), ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, method: 'GET', host: 'shop.example',
      path: `/products/${n % 500}`, parameter: n % 7 === 0 ? 'q=shoes' : '', userAgent: `Mozilla/5.0 (bench ${n % 40})`,
      requestId: `req-${n}`, treatment: n % 10 === 0 ? 'Blocked' : 'Passed', category: n % 10 === 0 ? 'bi' : 'passed',
      rule: n % 10 === 0 ? '10.0.0.0/8' : '-', ruleId: n % 10 === 0 ? 'r-1' : null, monitored: null, ipSource: null, country: 'DE',
    };
  });
}

/** `writers` batches in flight at once (as several upsyncs, or several hub instances, would send them). */
async function measure(store: HubStore, writers = 1): Promise<{ ingest: number; rollup: number }> {
  const site = await store.createSite('bench');
  const batches = Array.from({ length: BATCHES }, (_, i) => batch(i));
  let t = performance.now();
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = w; i < batches.length; i += writers) await store.insertReports(site.id, batches[i]!);
  }));
  const ingest = (BATCHES * BATCH) / ((performance.now() - t) / 1000);
  t = performance.now();
  let folded = 0;
  for (let i = 0; i < 1000; i++) {
    const n = await store.rollUp();
    if (n === 0) break;
    folded += n;
  }
  if (folded !== BATCHES * BATCH) throw new Error(`folded ${folded}, expected ${BATCHES * BATCH}`);
  return { ingest, rollup: folded / ((performance.now() - t) / 1000) };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const results = {
  sqlite: { ingest: [] as number[], rollup: [] as number[] },
  postgres: { ingest: [] as number[], rollup: [] as number[] },
  postgres4: { ingest: [] as number[], rollup: [] as number[] },
};
for (let round = 0; round < ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'moat-ingest-bench-'));
  const sqlite = SqliteStore.open(join(dir, 'hub.db'));
  const s = await measure(sqlite);
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
  const db = await freshDatabase('moat_bench');
  const postgres = await PostgresStore.open(db.url);
  const p = await measure(postgres);
  await postgres.close();
  await db.drop();
  const db4 = await freshDatabase('moat_bench');
  const postgres4 = await PostgresStore.open(db4.url);
  const p4 = await measure(postgres4, 4);
  await postgres4.close();
  await db4.drop();
  results.postgres4.ingest.push(p4.ingest); results.postgres4.rollup.push(p4.rollup);
  results.sqlite.ingest.push(s.ingest); results.sqlite.rollup.push(s.rollup);
  results.postgres.ingest.push(p.ingest); results.postgres.rollup.push(p.rollup);
}
const row = (name: string, r: { ingest: number[]; rollup: number[] }) =>
  `${name.padEnd(11)} ingest ${Math.round(median(r.ingest)).toLocaleString('en-US').padStart(9)} records/s   rollup ${Math.round(median(r.rollup)).toLocaleString('en-US').padStart(9)} records/s`;
console.log(`${BATCHES} batches of ${BATCH} reports, median of ${ROUNDS} rounds`);
console.log(row('SQLite', results.sqlite));
console.log(row('PostgreSQL', results.postgres));
console.log(row('PG 4 conc.', results.postgres4));
console.log(`PostgreSQL/SQLite: ingest ${(median(results.postgres.ingest) / median(results.sqlite.ingest)).toFixed(2)}x, rollup ${(median(results.postgres.rollup) / median(results.sqlite.rollup)).toFixed(2)}x`);
