// The SQLite scanners of both previews read a page as columns joined by SQLite and split them (sqlite/column-page.ts).
// Stored text is whatever clients sent, so the pages must equal a plain row-by-row read on values that
// could break a join: the separator itself, NUL, other control characters, emoji, empty strings, NULL
// against empty keys, counts and none; with pages cut in the middle of one second, and every column set.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openReportScanner, scanSelectList, type ScanColumns, type ScanRow } from '../src/store/report-scan.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { ReportRecord } from '../src/store/store.js';
import { openThresholdScanner, type ThresholdScanColumns, type ThresholdScanRow } from '../src/thresholds/threshold-preview-scan.js';

const AWKWARD = ['', 'x\x00y', '\x1e\x1d,;', '😀 ünï', ',', 'k', ' '.repeat(3), 'plain'];
/** The separator, in the user agents of the last reports only: the pages before them are split from columns, theirs read as rows. */
const SEPARATED = ['a\x1fb', '\x1f'];
const KEYS: (string | null)[] = [null, '', 'k', `header:x-api-key=${'0'.repeat(31)}1`, ','];

describe('SQLite scan pages read as columns equal the rows read one by one', () => {
  let dir: string;
  let file: string;
  let siteId: number;
  let raw: Database.Database;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moat-scan-columns-'));
    file = join(dir, 'hub.db');
    const store = SqliteStore.open(file);
    siteId = (await store.createSite('columns')).id;
    const records: ReportRecord[] = [];
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 240; i++) {
      const text = (k: number) => AWKWARD[(i + k) % AWKWARD.length]!;
      records.push({
        // Three reports a second: pages of 7 end inside a second, so the cursor's (ts, id) is exercised.
        ts: now - 1000 + Math.floor(i / 3), ip: i % 5 === 0 ? '2001:db8::1' : `192.0.2.${i % 7}`, method: text(1), host: text(2), path: `/${text(3)}`,
        parameter: text(4), userAgent: i >= 200 ? SEPARATED[i % 2]! : text(5), requestId: `r${i}`, treatment: (['Passed', 'Allowed', 'Blocked'] as const)[i % 3]!, category: 'passed',
        rule: '-', ruleId: null, monitored: null, ipSource: [null, 'socket', 'x-forwarded-for', 'proxy'][i % 4]!, country: null,
      });
    }
    await store.insertReports(siteId, records);
    await store.close();
    raw = new Database(file);
    // What ingest would not write, set directly: keys text of every shape, and counts on some rows.
    const ids = raw.prepare('SELECT id FROM reports ORDER BY id').pluck().all() as number[];
    const update = raw.prepare('UPDATE reports SET keys = ?, aggregate_count = ?, status = ? WHERE id = ?');
    ids.forEach((id, i) => update.run(i === 230 ? 'user=\x1f' : KEYS[i % KEYS.length], i % 4 === 0 ? i + 2 : null, i % 3 === 0 ? null : 200 + i, id));
  });
  after(() => {
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sets: ScanColumns[] = [
    { method: false, host: false, parameter: false, keys: false },
    { method: true, host: true, parameter: true, keys: true },
    { method: false, host: true, parameter: false, keys: true },
  ];
  for (const columns of sets) {
    it(`columns ${JSON.stringify(columns)}: every page, in pages of 7 and of 1,000`, async () => {
      const expected = raw.prepare(`SELECT ${scanSelectList(columns)} FROM reports WHERE site_id = ? ORDER BY ts, id`).raw().all(siteId) as ScanRow[];
      assert.equal(expected.length, 240);
      assert.ok(expected.some((row) => row[7].includes('\x1f')), 'the separator is in the data');
      assert.ok(expected.some((row) => row[10] === null) && (columns.keys !== true || expected.some((row) => row[10] === '')), 'NULL and empty keys both stored');
      const scanner = await openReportScanner({ kind: 'sqlite', file }, columns);
      try {
        await assertPagesEqual(scanner, siteId, expected);
      } finally {
        await scanner.close();
      }
    });
  }

  const thresholdSets: ThresholdScanColumns[] = [
    { keys: true, status: true },
    { keys: false, status: true, method: false, path: true, userAgent: false },
    { keys: true, status: false, method: true, path: false },
  ];
  for (const columns of thresholdSets) {
    it(`threshold scan, columns ${JSON.stringify(columns)}: every page, in pages of 7 and of 1,000`, async () => {
      const column = (name: string, wanted: boolean | undefined) => (wanted === false ? 'NULL' : name);
      const expected = raw.prepare(`SELECT id, ts, ip, ${column('method', columns.method)}, ${column('path', columns.path)}, ${column('user_agent', columns.userAgent)},
        treatment, aggregate_count, ${columns.keys ? 'keys' : 'NULL'}, ${columns.status ? 'status' : 'NULL'}, ip_source FROM reports WHERE site_id = ? ORDER BY ts, id`)
        .raw().all(siteId) as ThresholdScanRow[];
      assert.ok(!columns.status || (expected.some((row) => row[9] === null) && expected.some((row) => row[9] !== null)), 'statuses and none');
      const scanner = await openThresholdScanner({ kind: 'sqlite', file }, columns);
      try {
        await assertPagesEqual(scanner, siteId, expected);
      } finally {
        await scanner.close();
      }
    });
  }
});

/** Every page of `scanner` in pages of 7 (cut inside a second) and of 1,000, joined: the rows of `expected`. */
async function assertPagesEqual<Row extends [number, number, ...unknown[]]>(
  scanner: { page(siteId: number, from: number, to: number, cursor: { ts: number; id: number }, limit: number): Promise<Row[]> }, siteId: number, expected: Row[],
): Promise<void> {
  for (const size of [7, 1000]) {
    const read: Row[] = [];
    const cursor = { ts: 0, id: 0 };
    for (;;) {
      const page = await scanner.page(siteId, 0, Number.MAX_SAFE_INTEGER, cursor, size);
      if (page.length === 0) break;
      read.push(...page);
      cursor.ts = page[page.length - 1]![1];
      cursor.id = page[page.length - 1]![0];
    }
    assert.deepEqual(read, expected, `pages of ${size}`);
  }
}
