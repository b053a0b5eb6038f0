// The split of a rate-limit or threshold preview by client (ClientHalf in report-scan.ts), on odd stored
// rows: IPv6, IPv4-mapped and hex-mapped addresses, reports without keys, and keys text no hub writes
// (short or empty hashes, a kind that prefixes another, a kind in the middle). Each report must land
// in exactly one half, the half the documented rule gives, on SQLite and PostgreSQL alike.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openReportScanner, type ClientHalf, type KeyHalf } from '../src/store/report-scan.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { HubStore, ReportRecord } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

const KIND = 'header:x-api-key';
const HASH_ODD = '0123456789abcdef0123456789abcdef';
const HASH_EVEN = '0123456789abcdef0123456789abcde0';

const IPS = [
  '10.0.0.1', '10.0.0.2', '10.0.0.13', '10.0.0.250', '::ffff:10.0.0.1', '::ffff:10.0.0.2', '::ffff:c000:201', '::1',
  '2001:db8::7', '2001:db8::a', '2001:db8:0:1::1', '64:ff9b::192.0.2.1', 'fe80::1',
];

/** Keys text as stored, including what no hub writes (set by SQL after the insert). */
const KEYS_TEXTS: (string | null)[] = [
  null,
  `${KIND}=${HASH_ODD}`,
  `${KIND}=${HASH_EVEN}`,
  `user=${HASH_ODD} ${KIND}=${HASH_EVEN}`,
  `${KIND}-2=${HASH_ODD}`,
  `my-${KIND}=${HASH_ODD}`,
  `cookie:s=${HASH_EVEN} user=${HASH_ODD}`,
  `${KIND}=abc`,
  `${KIND}=`,
  `${KIND}=${HASH_EVEN} ${KIND}=${HASH_ODD}`,
  '',
  ' ',
  `x ${KIND}=${HASH_ODD}`,
];

/** The documented rule, in JavaScript: the key's hash's last digit where the report has the kind, else the IP's last digit when dotted. */
function expectedHalf(ip: string, keys: string | null, keyKind: string | undefined): KeyHalf {
  const byIp: KeyHalf = ip.includes('.') && '13579'.includes(ip.slice(-1)) ? 1 : 0;
  if (keyKind === undefined || keys === null) return byIp;
  const at = ` ${keys}`.indexOf(` ${keyKind}=`);
  if (at < 0) return byIp;
  // The hash's 32nd digit, at a position that may fall past the end of odd text (then half 0).
  return '13579bdf'.includes(keys.charAt(at + keyKind.length + 32) || '-') ? 1 : 0;
}

interface Opened {
  store: HubStore;
  /** Sets a report's stored keys text as is (what ingest would refuse). */
  setKeys(id: number, keys: string | null): Promise<void>;
  dispose(): Promise<void>;
}

function record(ts: number, ip: string, i: number): ReportRecord {
  return {
    ts, ip, method: 'GET', host: 'example.test', path: '/p', parameter: '', userAgent: 'ua', requestId: `h${i}`,
    treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
    keys: [{ kind: 'user', hash: HASH_EVEN }],
  };
}

function halvesSuite(storeName: string, open: () => Promise<Opened>): void {
  describe(`the split by client on ${storeName}: every report in the one half the rule gives`, () => {
    let opened: Opened;
    let siteId: number;
    const rows = new Map<number, { ip: string; keys: string | null }>();

    before(async () => {
      opened = await open();
      siteId = (await opened.store.createSite('halves')).id;
      const now = Math.floor(Date.now() / 1000);
      const records: ReportRecord[] = [];
      for (const ip of IPS) for (let k = 0; k < KEYS_TEXTS.length; k++) records.push(record(now - 600 + records.length, ip, records.length));
      await opened.store.insertReports(siteId, records);
      const source = opened.store.reportScanSource()!;
      const scanner = await openReportScanner(source, { method: false, host: false, parameter: false, keys: true });
      try {
        const stored = await scanner.page(siteId, 0, Number.MAX_SAFE_INTEGER, { ts: -1, id: 0 }, 10_000);
        assert.equal(stored.length, records.length);
        for (let i = 0; i < stored.length; i++) {
          const keys = KEYS_TEXTS[i % KEYS_TEXTS.length]!;
          await opened.setKeys(stored[i]![0], keys);
          rows.set(stored[i]![0], { ip: stored[i]![2], keys });
        }
      } finally {
        await scanner.close();
      }
    });
    after(async () => { await opened.dispose(); });

    for (const split of [{ name: 'by IP', keyKind: undefined }, { name: `by ${KIND}, else IP`, keyKind: KIND }]) {
      it(`${split.name}: the halves are disjoint, cover every report, and match the rule row by row`, async () => {
        const halfOf = new Map<number, KeyHalf>();
        for (const half of [0, 1] as const) {
          const clientHalf: ClientHalf = split.keyKind === undefined ? { half } : { half, keyKind: split.keyKind };
          const scanner = await openReportScanner(opened.store.reportScanSource()!, { method: false, host: false, parameter: false, keys: true }, clientHalf);
          try {
            for (const row of await scanner.page(siteId, 0, Number.MAX_SAFE_INTEGER, { ts: -1, id: 0 }, 10_000)) {
              assert.equal(halfOf.has(row[0]), false, `report ${row[0]} in both halves`);
              halfOf.set(row[0], half);
            }
          } finally {
            await scanner.close();
          }
        }
        assert.equal(halfOf.size, rows.size, 'every report in a half');
        for (const [id, { ip, keys }] of rows) {
          assert.equal(halfOf.get(id), expectedHalf(ip, keys, split.keyKind), `${ip} with keys ${JSON.stringify(keys)}`);
        }
        // A dotted address and its IPv4-mapped spelling are one client: one half.
        const byIp = (ip: string) => [...rows].filter(([, r]) => r.ip === ip && (split.keyKind === undefined || r.keys === null)).map(([id]) => halfOf.get(id));
        assert.deepEqual(new Set([...byIp('10.0.0.1'), ...byIp('::ffff:10.0.0.1')]), new Set([1]));
        assert.deepEqual(new Set([...byIp('10.0.0.2'), ...byIp('::ffff:10.0.0.2')]), new Set([0]));
        const counts = [0, 1].map((h) => [...halfOf.values()].filter((v) => v === h).length);
        assert.ok(counts[0]! > 0 && counts[1]! > 0, 'both halves get reports');
      });
    }
  });
}

halvesSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-halves-'));
  const file = join(dir, 'hub.db');
  const store = SqliteStore.open(file);
  const raw = new Database(file);
  const update = raw.prepare('UPDATE reports SET keys = ? WHERE id = ?');
  return {
    store,
    setKeys: async (id, keys) => { update.run(keys, id); },
    dispose: async () => {
      raw.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

halvesSuite('PostgreSQL', async () => {
  const db: TestDatabase = await freshDatabase('moat_halves');
  const store = await PostgresStore.open(db.url, { max: 2 });
  const raw = new pg.Client({ connectionString: db.url });
  await raw.connect();
  return {
    store,
    setKeys: async (id, keys) => { await raw.query('UPDATE reports SET keys = $1 WHERE id = $2', [keys, id]); },
    dispose: async () => {
      await raw.end();
      await store.close();
      await db.drop();
    },
  };
});
