// Replaying records that carry the key hashes a report holds (`keys`): keyed rate limits count and keyed
// bans match by those hashes exactly as a live engine does by the raw values, memoised replays included,
// and `moat-waf check --ndjson` refuses a `keys` field that is not hashes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { block, engineFor, withTmpDir } from './helpers/engine-kit.js';
import { ROOT, runProcess, transpileClient } from './helpers/cli-build.js';
import { Replay, TrafficSummary, type ReplayRecord } from '../src/cli/commands/check-summary.js';
import { MemoryRateLimitStore, normalizeRule } from '../src/index.js';

const client = transpileClient();
after(() => fs.rmSync(client.dir, { recursive: true, force: true }));

function moat(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [client.main, ...args], { input });
}

const hashOf = (value: string) => createHash('sha256').update(`header\0x-api-key\0${value}`).digest('hex').slice(0, 32);

/** Requests from 12 addresses sharing 4 API keys (some without one): raw values, and records with their hashes. */
function traffic(): { raw: { ip: string; path: string; ts: number; apiKey: string | null }[]; records: ReplayRecord[] } {
  let seed = 99;
  const next = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const raw = Array.from({ length: 1500 }, (_, i) => {
    const client = next(12);
    return { ip: `10.3.0.${client}`, path: next(4) === 0 ? '/' : '/api', ts: 1_700_000_000 + Math.floor(i / 4), apiKey: next(3) === 0 ? null : `key-${(client + next(2)) % 4}` };
  });
  const records = raw.map((r): ReplayRecord => ({ ip: r.ip, path: r.path, ts: r.ts, userAgent: 'c/1', keys: r.apiKey === null ? null : `header:x-api-key=${hashOf(r.apiKey)}` }));
  return { raw, records };
}

describe('replays with stored key hashes', () => {
  test('a rate limit keyed by x-api-key and a keyed ban (memoised) decide each record as the live engine decides the raw request', () =>
    withTmpDir((dir) => {
      const { raw, records } = traffic();
      const sets = [
        [normalizeRule({ action: 'block', kind: 'rateLimit', value: '/api', rateLimit: { path: '/api', limit: 5, window: '30s', key: 'header:x-api-key' } })],
        [block('key', `header:x-api-key=${hashOf('key-2')}`)],
      ];
      for (const rules of sets) {
        const replay = new Replay((now) => engineFor(dir, rules, { now, rateLimits: new MemoryRateLimitStore() }));
        let clock = 0;
        const live = engineFor(dir, rules, { now: () => clock, rateLimits: new MemoryRateLimitStore() });
        const expected = new TrafficSummary();
        raw.forEach((r, i) => {
          replay.add(records[i]!);
          clock = r.ts * 1000;
          const headers = r.apiKey === null ? {} : { 'x-api-key': r.apiKey };
          expected.add(records[i]!, live.evaluate({ ip: r.ip, path: r.path, userAgent: 'c/1', headers }));
        });
        const result = replay.summary.result();
        assert.deepEqual(result, expected.result(), rules[0]!.kind);
        assert.ok(result.matched.requests > 20 && result.matched.requests < records.length, `${rules[0]!.kind} blocks some records, not all: ${result.matched.requests}`);
        replay.engine.close();
        live.close();
      }
    }));

  test('moat-waf check --ndjson: a "keys" field holding a raw value is an error line; hashes are counted per key', () =>
    withTmpDir(async (dir) => {
      const json = path.join(dir, 'rules.json');
      fs.writeFileSync(json, JSON.stringify({ rateLimits: [{ id: 'api', path: '/api', limit: 2, window: '1m', key: 'header:x-api-key' }] }));
      const rules = path.join(dir, 'rules.db');
      assert.equal((await moat(['compile', json, '-o', rules], '')).code, 0);
      const keys = `header:x-api-key=${hashOf('shared')}`;
      // One key from four addresses: the third and fourth are refused; by IP none would be.
      const lines = [1, 2, 3, 4].map((n) => JSON.stringify({ ip: `192.0.2.${n}`, path: '/api', ts: 1_700_000_000 + n, keys }));
      const forged = JSON.stringify({ ip: '192.0.2.9', path: '/api', ts: 1_700_000_010, keys: 'header:x-api-key=sk_live_secret' });
      const r = await moat(['check', '--rules', rules, '--ndjson', '--summary', '--json'], [...lines, forged].join('\n'));
      assert.equal(r.code, 2);
      const [errorLine, summaryLine] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.match(errorLine.error, /"keys" must be/);
      assert.equal(summaryLine.requests, 4);
      assert.equal(summaryLine.treatments.Blocked, 2);
    }));
});
