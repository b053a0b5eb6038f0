// The rule preview of a rate limit keyed by a header, cookie or user id: it counts per key from the
// hashes stored with each report (the `keys` column), and by IP where a report has no such key, as
// clients count. Checked against a brute-force sliding count over the stored reports and against a
// live engine judging the raw requests; SQLite and PostgreSQL.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine, MemoryRateLimitStore } from 'moat-waf';
import { createHub, type Hub } from '../src/index.js';
import { compileMoatRules, type Rule } from '../src/distribution/compile.js';
import type { HubStore, ReportRecord, StoredReport } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { openReportScanner } from '../src/store/report-scan.js';
import { bruteCount, runPreview, storedReports } from './support/preview-traffic.js';

const PATH = '/api/items';
const LIMIT = 3;
const WINDOW_SECONDS = 600;

/** A raw request as the client saw it, and the report it sent (hashes only). */
interface Sent {
  apiKey: string | null;
  session: string | null;
  user: string | null;
}

/** The hash a Moat client reports for a key's value (rate-limit-client.ts keyHash). */
function clientHash(by: 'header' | 'cookie' | 'user', name: string, value: string): string {
  return createHash('sha256').update(`${by}\0${name}\0${value}`).digest('hex').slice(0, 32);
}

/**
 * Requests over the last two hours: 20 addresses, 6 API keys each shared by several addresses (an
 * address uses at most two), a third of the requests with no API key, some with a session cookie or a
 * user id only; most on PATH, in bursts, so every limit has requests to refuse.
 */
function keyedTraffic(nowSeconds: number, count: number): { records: ReportRecord[]; sent: Map<string, Sent> } {
  let seed = 0x1234567;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const records: ReportRecord[] = [];
  const sent = new Map<string, Sent>();
  for (let i = 0; i < count; i++) {
    const client = next(20);
    const apiKey = next(3) === 0 ? null : `sk_live_${(client + next(2)) % 6}`;
    const session = next(4) === 0 ? `s${next(5)}` : null;
    const user = next(5) === 0 ? `u${next(4)}` : null;
    const keys: { kind: string; hash: string }[] = [];
    if (apiKey !== null) keys.push({ kind: 'header:x-api-key', hash: clientHash('header', 'x-api-key', apiKey) });
    if (session !== null) keys.push({ kind: 'cookie:session', hash: clientHash('cookie', 'session', session) });
    if (user !== null) keys.push({ kind: 'user', hash: clientHash('user', '', user) });
    const requestId = `k${i}`;
    sent.set(requestId, { apiKey, session, user });
    records.push({
      // Some clients' addresses arrive IPv4-mapped (`::ffff:10.2.0.7`): one client either way.
      ts: nowSeconds - 7200 + Math.floor((i / count) * 7000) + next(2), ip: `${next(5) === 0 ? '::ffff:' : ''}10.2.0.${client}`, method: next(4) === 0 ? 'POST' : 'GET',
      host: 'api.example.test', path: next(5) === 0 ? '/health' : PATH, parameter: '', userAgent: 'client/1', requestId,
      treatment: next(6) === 0 ? 'Blocked' : 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
      keys: keys.length > 0 ? keys : null,
    });
  }
  return { records: records.sort((a, b) => a.ts - b.ts), sent };
}

/** Requests a sliding-window limit refuses, counted per `bucket` (the key's hash, or the IP without one). */
function bruteRefused(reports: readonly StoredReport[], bucket: (r: StoredReport) => string): StoredReport[] {
  const counted = new Map<string, number[]>();
  const refused: StoredReport[] = [];
  for (const r of reports) {
    if (r.path !== PATH) continue;
    const b = bucket(r);
    const inWindow = (counted.get(b) ?? []).filter((t) => t > r.ts - WINDOW_SECONDS);
    if (inWindow.length >= LIMIT) refused.push(r);
    else inWindow.push(r.ts);
    counted.set(b, inWindow);
  }
  return refused;
}

function byKey(kind: string): (r: StoredReport) => string {
  return (r) => {
    const hash = r.keys?.find((k) => k.kind === kind)?.hash;
    return hash === undefined ? `ip ${canonicalIp(r.ip)}` : `key ${hash}`;
  };
}

function canonicalIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
}

/** The raw requests judged by a live engine with the draft, on a clock set to each report's time: ids of the blocked. */
function liveBlocked(rule: Rule, reports: readonly StoredReport[], sent: ReadonlyMap<string, Sent>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'moat-preview-keyed-'));
  let nowMs = 0;
  const engine = Engine.open({ rules: compileMoatRules([rule], join(dir, 'rules.db')).path, now: () => nowMs, rateLimits: new MemoryRateLimitStore() });
  try {
    const blocked: string[] = [];
    for (const r of reports) {
      nowMs = r.ts * 1000;
      const raw = sent.get(r.requestId)!;
      const headers: Record<string, string> = {};
      if (raw.apiKey !== null) headers['x-api-key'] = raw.apiKey;
      if (raw.session !== null) headers.cookie = `theme=dark; session=${raw.session}`;
      const decision = engine.evaluate({ ip: r.ip, method: r.method, host: r.host, path: r.path, userAgent: r.userAgent, headers, user: raw.user ?? undefined });
      if (decision.treatment === 'Blocked') blocked.push(r.requestId);
    }
    return blocked;
  } finally {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const DRAFTS: { key: string; kind: string }[] = [
  { key: 'header:x-api-key', kind: 'header:x-api-key' },
  { key: 'cookie:session', kind: 'cookie:session' },
  { key: 'user', kind: 'user' },
];

function keyedSuite(storeName: string, open: () => Promise<{ hub: Hub<HubStore>; dispose: () => Promise<void> }>): void {
  describe(`keyed rate-limit preview on ${storeName}: counts per key from the stored hashes, by IP without one`, () => {
    let hub: Hub<HubStore>;
    let dispose: () => Promise<void>;
    let client: Client;
    let siteId: number;
    let reports: StoredReport[];
    let sent: Map<string, Sent>;

    before(async () => {
      ({ hub, dispose } = await open());
      client = new Client(hub.url);
      await client.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const created = await client.api('POST', '/api/sites', { name: 'keyed preview' });
      siteId = ((await created.json()) as { site: { id: number } }).site.id;
      const now = Math.floor(Date.now() / 1000);
      const traffic = keyedTraffic(now, 3000);
      sent = traffic.sent;
      await hub.store.insertReports(siteId, traffic.records);
      reports = await storedReports(hub.store, siteId, now - 86_400, now + 3600);
      assert.equal(reports.length, 3000);
      assert.ok(reports.some((r) => r.keys === null || r.keys === undefined), 'some reports carry no key');
    });
    after(async () => { await dispose(); });

    for (const draft of DRAFTS) {
      it(`a rate limit keyed by ${draft.key}: refused requests, distinct IPs, newly blocked and examples equal a per-key sliding count`, async () => {
        const rule = { kind: 'rateLimit', rateLimit: { path: PATH, limit: LIMIT, window: '10m', key: draft.key } };
        const job = (await runPreview(client, siteId, rule)) as Awaited<ReturnType<typeof runPreview>> & { rule: Rule };
        assert.equal(job.state, 'done', job.error);
        assert.equal(job.parts, 2, 'a keyed limit is split by client: the key, else the address');
        assert.equal(job.scanned, 3000);
        const refused = bruteRefused(reports, byKey(draft.kind));
        const expected = bruteCount(refused);
        const perIp = bruteRefused(reports, (r) => `ip ${canonicalIp(r.ip)}`);
        assert.ok(expected.requests > 20, 'the traffic has bursts to refuse');
        assert.notEqual(expected.requests, perIp.length, 'counting per key gives other numbers than per IP');
        const result = job.result!;
        assert.equal(result.matched.requests, expected.requests);
        assert.equal(result.matched.distinctIps, expected.distinctIps);
        assert.equal(result.wouldChange, expected.passedOrAllowed);
        assert.deepEqual(result.matched.topIps.entries[0], expected.topIp);
        const newest = refused.slice(-10).reverse().map((r) => ({ ts: r.ts, ip: r.ip }));
        assert.deepEqual((result.matched.examples as { ts: number; ip: string }[]).map(({ ts, ip }) => ({ ts, ip })), newest);
        // A client judging the raw values (not the hashes) blocks exactly these requests.
        assert.deepEqual(liveBlocked(job.rule, reports, sent), refused.map((r) => r.requestId));
      });

      it(`the two halves of a ${draft.key} split read every report once, and every report of one counted client in one half`, async () => {
        const source = hub.store.reportScanSource()!;
        const halfOf = new Map<number, 0 | 1>();
        for (const half of [0, 1] as const) {
          const scanner = await openReportScanner(source, { method: false, host: false, parameter: false, keys: true }, { half, keyKind: draft.kind });
          try {
            const rows = await scanner.page(siteId, 0, Number.MAX_SAFE_INTEGER, { ts: -1, id: 0 }, 10_000);
            for (const row of rows) {
              assert.equal(halfOf.has(row[0]), false, 'a report in both halves');
              halfOf.set(row[0], half);
            }
          } finally {
            await scanner.close();
          }
        }
        assert.equal(halfOf.size, reports.length);
        const clientHalves = new Map<string, Set<number>>();
        for (const r of reports) {
          const client = byKey(draft.kind)(r);
          const halves = clientHalves.get(client) ?? new Set<number>();
          halves.add(halfOf.get(r.id)!);
          clientHalves.set(client, halves);
        }
        for (const [client, halves] of clientHalves) assert.equal(halves.size, 1, `${client} is in both halves`);
        const halves = [...clientHalves.values()].map((h) => [...h][0]);
        assert.ok(halves.includes(0) && halves.includes(1), 'both halves get clients');
      });
    }
  });
}

keyedSuite('SQLite', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-preview-keyed-'));
  const hub = await createHub({ dataDir, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined });
  return { hub, dispose: async () => { await hub.close(); rmSync(dataDir, { recursive: true, force: true }); } };
});

keyedSuite('PostgreSQL', async () => {
  const db: TestDatabase = await freshDatabase('moat_preview_keyed');
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-preview-keyed-'));
  const hub = await createHub({
    dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined,
  });
  return { hub, dispose: async () => { await hub.close(); await db.drop(); rmSync(dataDir, { recursive: true, force: true }); } };
});
