// Attacks on the hashed keys reports now store (the `keys` column the rule preview counts keyed rate
// limits by): a raw secret passed off as a hash must never reach the database, and an attacker who
// rotates addresses behind one API key must still be counted as one client by a keyed-limit backtest.
// Real hub, real HTTP upsync, SQLite files read back byte for byte.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { record, startHubWithSite, upsyncBody } from '../support/hub-fixture.js';
import { runPreview } from '../support/preview-traffic.js';

interface UpsyncAnswer { accepted: number; rejected: number }

const HASH = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const SECRET = 'sk_live_51HxQvTopSecretValue';

function upsync(url: string, apiKey: string, records: Record<string, unknown>[]): Promise<Response> {
  return fetch(`${url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(records)) });
}

describe('stored report keys under attack', () => {
  it('an upsync record whose keys carry a raw API key is refused: the secret is in no file of the hub\'s data dir; a genuine hash is stored', async () => {
    const { hub, apiKey } = await startHubWithSite();
    try {
      const now = Math.floor(Date.now() / 1000);
      const forged = [
        `header:x-api-key=${SECRET}`,
        `header:x-api-key=${HASH} cookie:session=${SECRET}`,
        `user=${SECRET.padEnd(32, '0').slice(0, 32)}`,
      ].map((keys, i) => record({ request_id: `forged-${i}`, timestamp: now, keys }));
      const genuine = record({ request_id: 'genuine', timestamp: now, keys: `header:x-api-key=${HASH} user=${HASH.replace('f', 'a')}` });
      const response = await upsync(hub.url, apiKey, [...forged, genuine]);
      assert.equal(response.status, 200, await response.clone().text());
      const answer = (await response.json()) as UpsyncAnswer;
      assert.deepEqual([answer.accepted, answer.rejected], [1, 3]);
      const rows = hub.store.db.prepare('SELECT request_id, keys FROM reports ORDER BY id').all() as { request_id: string; keys: string | null }[];
      assert.deepEqual(rows, [{ request_id: 'genuine', keys: `header:x-api-key=${HASH} user=${HASH.replace('f', 'a')}` }]);
      // The database and its write-ahead log, as an attacker with the disk would read them.
      hub.store.db.pragma('wal_checkpoint(PASSIVE)');
      for (const name of readdirSync(hub.dataDir, { recursive: true }) as string[]) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(hub.dataDir, name));
        } catch {
          continue; // a folder
        }
        assert.equal(bytes.includes(SECRET.slice(0, 20)), false, `${name} holds the raw secret`);
      }
    } finally {
      await hub.stop();
    }
  });

  it('25 addresses sharing one API key are counted as one client by a preview of a limit keyed by x-api-key: 20 of 25 refused (by IP: none)', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      const now = Math.floor(Date.now() / 1000);
      // One request from each address, a second apart, all with the same API key.
      const rotated = Array.from({ length: 25 }, (_, i) => record({
        ip: `198.51.100.${i + 1}`, path: '/api/export', request_id: `rot-${i}`, timestamp: now - 120 + i, keys: `header:x-api-key=${HASH}`,
      }));
      const response = await upsync(hub.url, apiKey, rotated);
      assert.equal(((await response.json()) as UpsyncAnswer).accepted, 25);
      const keyed = await runPreview(client, siteId, { kind: 'rateLimit', rateLimit: { path: '/api/export', limit: 5, window: '10m', key: 'header:x-api-key' } });
      assert.equal(keyed.state, 'done', keyed.error);
      assert.equal(keyed.result!.matched.requests, 20);
      assert.equal(keyed.result!.matched.distinctIps, 20);
      const byIp = await runPreview(client, siteId, { kind: 'rateLimit', rateLimit: { path: '/api/export', limit: 5, window: '10m' } });
      assert.equal(byIp.state, 'done', byIp.error);
      assert.equal(byIp.result!.matched.requests, 0, 'per address, nobody passes the limit');
    } finally {
      await hub.stop();
    }
  });
});
