import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHub, type Hub } from '../src/index.js';
import { compileMoatRules, type Rule } from '../src/distribution/compile.js';
import type { HubStore, StoredReport } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';
import { bruteCount, bruteRateLimited, previewTraffic, runPreview, storedReports } from './support/preview-traffic.js';

const RECENT = 6000;

/** Draft rules and, for each, which stored reports a brute-force reading says it matches. */
const CASES: { name: string; rule: object; matches: (r: StoredReport) => boolean }[] = [
  { name: 'an IP range', rule: { kind: 'ip', value: '10.0.0.0/28' }, matches: (r) => /^10\.0\.0\.(\d+)$/.test(r.ip) && Number(r.ip.split('.')[3]) < 16 },
  { name: 'a path substring (any case)', rule: { kind: 'path', value: '/wp-admin' }, matches: (r) => r.path.toLowerCase().includes('/wp-admin') },
  { name: 'a user agent substring', rule: { kind: 'userAgent', value: 'SQLMAP' }, matches: (r) => r.userAgent.toLowerCase().includes('sqlmap') },
  { name: 'a parameter substring', rule: { kind: 'param', value: 'union select' }, matches: (r) => r.parameter.toLowerCase().includes('union select') },
  { name: 'a host', rule: { kind: 'host', value: 'admin.example.test' }, matches: (r) => r.host === 'admin.example.test' },
  { name: 'a method', rule: { kind: 'method', value: 'DELETE' }, matches: (r) => r.method === 'DELETE' },
];

const MOAT_CLI = fileURLToPath(new URL('../../moat/bin/moat.js', import.meta.url));

/** What `moat-waf check --ndjson --summary --json` prints for the reports replayed against `rule`. */
function cliSummary(rule: Rule, reports: readonly StoredReport[]): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'moat-preview-cli-'));
  try {
    const rulesFile = compileMoatRules([rule], join(dir, 'rules.db')).path;
    const ndjson = reports.map((r) => JSON.stringify({
      ip: r.ip, method: r.method, host: r.host, path: r.path, params: r.parameter, userAgent: r.userAgent, ts: r.ts, treatment: r.treatment,
    })).join('\n');
    const cli = spawnSync(process.execPath, [MOAT_CLI, 'check', '--rules', rulesFile, '--ndjson', '--summary', '--json'], { input: ndjson, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    return JSON.parse(cli.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A preview result without what only the hub reports (live rate-limit state, scan time). */
function hubSummary(result: unknown): Record<string, unknown> {
  const { wouldChange: _w, rateLimitEvictedLive: _e, scanMs: _s, ...summary } = result as Record<string, unknown>;
  return summary;
}

function backtestSuite(storeName: string, open: () => Promise<{ hub: Hub<HubStore>; dispose: () => Promise<void> }>, withCli = false): void {
  describe(`rule preview on ${storeName}: counts equal a brute-force count over the stored reports`, () => {
    let hub: Hub<HubStore>;
    let dispose: () => Promise<void>;
    let client: Client;
    let siteId: number;
    let reports: StoredReport[];

    before(async () => {
      ({ hub, dispose } = await open());
      client = new Client(hub.url);
      await client.login(ADMIN_EMAIL, ADMIN_PASSWORD);
      const created = await client.api('POST', '/api/sites', { name: 'preview' });
      siteId = ((await created.json()) as { site: { id: number } }).site.id;
      const now = Math.floor(Date.now() / 1000);
      await hub.store.insertReports(siteId, previewTraffic(now, RECENT));
      reports = await storedReports(hub.store, siteId, now - 86_400, now + 3600);
      assert.equal(reports.length, RECENT, 'the old reports lie outside the 24 h range');
    });
    after(async () => { await dispose(); });

    for (const c of CASES) {
      it(`${c.name}: matched requests, distinct IPs, newly blocked and the top IP`, async () => {
        const job = await runPreview(client, siteId, c.rule);
        assert.equal(job.state, 'done', job.error);
        const expected = bruteCount(reports.filter(c.matches));
        assert.ok(expected.requests > 0 && expected.requests < RECENT, 'the case matches some reports, not all');
        const result = job.result!;
        assert.equal(result.requests, RECENT);
        assert.equal(result.matched.requests, expected.requests);
        assert.equal(result.matched.distinctIps, expected.distinctIps);
        assert.equal(result.wouldChange, expected.passedOrAllowed);
        assert.equal(result.matched.recorded.Passed + result.matched.recorded.Allowed, expected.passedOrAllowed);
        assert.deepEqual(result.matched.topIps.entries[0], expected.topIp);
        assert.ok(result.matched.examples.length > 0 && result.matched.examples.length <= 10);
      });
    }

    it('a rate limit, replayed in timestamp order: the requests it refuses', async () => {
      const job = await runPreview(client, siteId, { kind: 'rateLimit', rateLimit: { path: '/login', limit: 2, window: '10m' } });
      assert.equal(job.state, 'done', job.error);
      const refused = bruteRateLimited(reports, '/login', 2, 600);
      const expected = bruteCount(refused);
      assert.ok(expected.requests > 10, 'the traffic has bursts to refuse');
      assert.equal(job.result!.matched.requests, expected.requests);
      assert.equal(job.result!.matched.distinctIps, expected.distinctIps);
      assert.equal(job.result!.wouldChange, expected.passedOrAllowed);
    });

    if (withCli) {
      it('`moat-waf check --ndjson --summary` over the same reports gives the same numbers as the preview', async () => {
        const rule = { kind: 'rateLimit', rateLimit: { path: '/login', limit: 2, window: '10m' } };
        const job = (await runPreview(client, siteId, rule)) as Awaited<ReturnType<typeof runPreview>> & { rule: Rule };
        assert.equal(job.state, 'done', job.error);
        assert.deepEqual(cliSummary(job.rule, reports), hubSummary(job.result));
      });
    }

    it('a path draft is scanned as two halves in time, merged: its counts, top lists and examples equal brute force and one pass of the CLI', async () => {
      const rule = { kind: 'path', value: '/wp-admin' };
      const job = (await runPreview(client, siteId, rule)) as Awaited<ReturnType<typeof runPreview>> & { rule: Rule };
      assert.equal(job.state, 'done', job.error);
      assert.equal(job.parts, 2, 'no rate limit: both halves at once');
      const matched = reports.filter((r) => r.path.toLowerCase().includes('/wp-admin'));
      const expected = bruteCount(matched);
      const result = job.result!;
      assert.equal(job.scanned, RECENT);
      assert.equal(result.requests, RECENT);
      assert.equal(result.matched.requests, expected.requests);
      assert.equal(result.matched.distinctIps, expected.distinctIps);
      assert.equal(result.wouldChange, expected.passedOrAllowed);
      assert.deepEqual(result.matched.topIps.entries[0], expected.topIp);
      // The newest matched requests, across the halves' seam: the later half's come first.
      const newest = matched.slice(-10).reverse().map((r) => ({ ts: r.ts, path: r.path, ip: r.ip }));
      assert.deepEqual((result.matched.examples as { ts: number; path: string; ip: string }[]).map(({ ts, path, ip }) => ({ ts, path, ip })), newest);
      if (withCli) {
        assert.deepEqual(cliSummary(job.rule, reports), hubSummary(result));
      }
    });

    it('a rate-limit draft is scanned by two workers, each replaying half of the clients: counts, top lists and examples equal one pass', async () => {
      const rule = { kind: 'rateLimit', rateLimit: { path: '/login', limit: 2, window: '10m' } };
      const job = (await runPreview(client, siteId, rule)) as Awaited<ReturnType<typeof runPreview>> & { rule: Rule };
      assert.equal(job.state, 'done', job.error);
      assert.equal(job.parts, 2, 'split by client');
      assert.equal(job.scanned, RECENT, 'the halves are disjoint and cover every report');
      const refused = bruteRateLimited(reports, '/login', 2, 600);
      // The flood's address (…9, half 1) and the others' (half 0 and 1) are refused on both sides of the split.
      assert.ok(refused.some((r) => r.ip.endsWith('9')) && refused.some((r) => !/[13579]$/.test(r.ip)), 'both halves refuse requests');
      const newest = refused.slice(-10).reverse().map((r) => ({ ts: r.ts, ip: r.ip }));
      assert.deepEqual((job.result!.matched.examples as { ts: number; ip: string }[]).map(({ ts, ip }) => ({ ts, ip })), newest);
      if (withCli) assert.deepEqual(cliSummary(job.rule, reports), hubSummary(job.result));
    });

    it('a stored count of Passed requests (an aggregate row) counts as that many requests, each against a rate limit', async () => {
      const created = await client.api('POST', '/api/sites', { name: 'counted' });
      const counted = ((await created.json()) as { site: { id: number } }).site.id;
      const now = Math.floor(Date.now() / 1000);
      const row = (ts: number, aggregateCount?: number) => ({
        ts, ip: '192.0.2.200', method: 'POST', host: 'a.test', path: '/login', parameter: '', userAgent: 'curl/8', requestId: `c${ts}`,
        treatment: 'Passed' as const, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null, aggregateCount,
      });
      await hub.store.insertReports(counted, [row(now - 300), row(now - 200, 40), row(now - 100), row(now - 50)]);
      const path = await runPreview(client, counted, { kind: 'path', value: '/login' });
      assert.equal(path.state, 'done', path.error);
      assert.equal(path.result!.requests, 43);
      assert.equal(path.result!.matched.requests, 43);
      assert.deepEqual(path.result!.matched.topIps.entries, [{ value: '192.0.2.200', count: 43 }]);
      // 5 per 10 minutes: the first request and four of the forty pass, the other 38 are refused.
      const limit = await runPreview(client, counted, { kind: 'rateLimit', rateLimit: { path: '/login', limit: 5, window: '10m' } });
      assert.equal(limit.state, 'done', limit.error);
      assert.equal(limit.result!.matched.requests, 38);
      assert.equal(limit.result!.wouldChange, 38);
    });

    it('the 1 h range reads only the last hour', async () => {
      const job = await runPreview(client, siteId, { kind: 'path', value: '/', mode: 'monitor' }, '1h');
      assert.equal(job.state, 'done', job.error);
      assert.equal(job.to - job.from, 3600);
      const lastHour = reports.filter((r) => r.ts >= job.from && r.ts < job.to);
      assert.ok(lastHour.length > 0);
      assert.equal(job.result!.requests, lastHour.length);
      // In monitor mode the rule matches every request and blocks none.
      assert.equal(job.result!.matched.requests, lastHour.length);
      assert.equal(job.result!.treatments.Blocked, 0);
    });
  });
}

backtestSuite('SQLite', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-preview-'));
  const hub = await createHub({ dataDir, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined });
  return { hub, dispose: async () => { await hub.close(); rmSync(dataDir, { recursive: true, force: true }); } };
}, true);

backtestSuite('PostgreSQL', async () => {
  const db: TestDatabase = await freshDatabase('moat_preview');
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-preview-'));
  const hub = await createHub({
    dataDir, databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined,
  });
  return { hub, dispose: async () => { await hub.close(); await db.drop(); rmSync(dataDir, { recursive: true, force: true }); } };
});
