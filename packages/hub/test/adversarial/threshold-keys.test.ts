// Attacks on keyed threshold rules (header, cookie, user id): rules keyed by a header the client
// controls the address through, more keys than clients may hash, and forged `keys` fields in upsync
// records — a raw value passed off as a hash, non-hex, a megabyte of text, a refused or non-canonical
// kind, duplicates, too many, the wrong type — in the Wafris JSON and the compact form. Each forged
// record is refused alone and counted in the answer, never stored and never counted toward a ban; a
// malformed compact column refuses the batch. Real hub, real HTTP, SQLite files.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { record, startHubWithSite, upsyncBody } from '../support/hub-fixture.js';
import { COMPACT_TYPE, toCompactUpsync } from '../support/compact-upsync-batch.js';
import { createThreshold, listBans, thresholdInput } from '../support/thresholds-kit.js';

interface UpsyncAnswer { accepted: number; rejected: number; errors: { index: number; reason: string }[] }

const HASH = '0123456789abcdef0123456789abcdef';

const FORGED: [string, unknown][] = [
  ['a raw API key instead of a hash', 'header:x-api-key=sk_live_1234'],
  ['a hash of 31 digits', `header:x-api-key=${HASH.slice(1)}`],
  ['upper-case hex', `header:x-api-key=${HASH.toUpperCase()}`],
  ['a megabyte of text', `header:x-api-key=${HASH} ${'a'.repeat(1 << 20)}`],
  ['a client-address header as the kind', `header:x-forwarded-for=${HASH}`],
  ['"ip" as the kind', `ip=${HASH}`],
  ['an upper-case header name', `header:X-Api-Key=${HASH}`],
  ['an unknown kind', `query:k=${HASH}`],
  ['the same key twice', `header:x-api-key=${HASH} header:x-api-key=${HASH.replace('0', '1')}`],
  ['nine keys', Array.from({ length: 9 }, (_, i) => `header:k${i}=${HASH}`).join(' ')],
  ['keys as an object', { 'header:x-api-key': HASH }],
  ['keys as a list', [`header:x-api-key=${HASH}`]],
];

describe('keyed threshold rules under attack', () => {
  it('POST /api/sites/:id/thresholds keyed by X-Forwarded-For, Cookie, an empty or unknown kind, or a ninth header is refused 400', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      for (const key of ['header:x-forwarded-for', 'header:X-Real-IP', 'header:cookie', 'header:', 'cookie:a;b', 'query:k', `header:${'x'.repeat(65)}`]) {
        const response = await client.api('POST', `/api/sites/${siteId}/thresholds`, thresholdInput({ key }));
        assert.equal(response.status, 400, `${key}: ${await response.text()}`);
      }
      for (let i = 0; i < 8; i++) await createThreshold(client, siteId, { name: `k${i}`, key: `header:k${i}` });
      const ninth = await client.api('POST', `/api/sites/${siteId}/thresholds`, thresholdInput({ key: 'header:k8' }));
      assert.equal(ninth.status, 400);
      assert.match(await ninth.text(), /too_many_threshold_keys/);
      assert.equal((await hub.store.thresholds.listThresholdRules(siteId)).length, 8, 'a rule by an already listed key is still taken');
    } finally {
      await hub.stop();
    }
  });

  for (const form of ['Wafris JSON', 'compact'] as const) {
    it(`forged keys in ${form} upsync records are refused one by one, counted, not stored, and ban nobody; a genuine key bans`, async () => {
      const { hub, client, siteId, apiKey } = await startHubWithSite();
      try {
        await createThreshold(client, siteId, { name: 'key flood', condition: { requests: 'any' }, threshold: 2, key: 'header:x-api-key' });
        const now = Math.floor(Date.now() / 1000);
        const forged = FORGED.map(([what, keys], i) => record({ ip: `203.0.113.${i + 1}`, request_id: `forged-${i}`, timestamp: now, ip_source: 'socket', keys, what }));
        // Each forged key three times (a threshold of 2 would ban it, were it counted), from distinct addresses.
        const batch = [...forged, ...forged.map((r) => ({ ...r, ip: `198.51.100.${String(r.request_id).slice(7)}` })), ...forged];
        const send = (records: Record<string, unknown>[]) => {
          const plain = records.map(({ what: _what, ...r }) => r);
          if (form === 'Wafris JSON') {
            return fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(plain)) });
          }
          const body = toCompactUpsync({ version: '0.1.0', client: 'moat', framework: 'test' }, plain);
          // The compact form carries keys as text in the dictionary: forged non-text keys are sent as their JSON text.
          body.columns.keys = plain.map((r) => {
            if (r.keys === undefined) return -1;
            body.strings.push(typeof r.keys === 'string' ? r.keys : JSON.stringify(r.keys));
            return body.strings.length - 1;
          });
          return fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': COMPACT_TYPE }, body: JSON.stringify(body) });
        };
        const response = await send(batch);
        assert.equal(response.status, 200, await response.clone().text());
        const answer = (await response.json()) as UpsyncAnswer;
        assert.deepEqual([answer.accepted, answer.rejected], [0, batch.length], 'every forged record refused and counted');
        assert.ok(answer.errors.every((e) => e.reason.startsWith('keys')), JSON.stringify(answer.errors.slice(0, 3)));
        assert.equal(hub.store.db.prepare("SELECT count(*) FROM reports WHERE request_id LIKE 'forged-%'").pluck().get(), 0, 'none stored');
        await hub.context.thresholds.idle();
        assert.deepEqual(await listBans(client, siteId), [], 'no forged key was counted');

        // The same hub takes a genuine key and bans it: the refusals above were the forgery, not the path.
        const genuine = `header:x-api-key=${HASH}`;
        const ok = await send([1, 2].map((i) => record({ ip: `192.0.2.${i}`, request_id: `genuine-${i}`, timestamp: now, ip_source: 'socket', keys: genuine })));
        assert.equal(((await ok.json()) as UpsyncAnswer).accepted, 2);
        await hub.context.thresholds.idle();
        assert.deepEqual((await listBans(client, siteId)).map((b) => b.key), [genuine]);
      } finally {
        await hub.stop();
      }
    });
  }

  it('a compact batch whose keys column is short, or names a string outside the dictionary, is refused whole (400) and stores nothing', async () => {
    const { hub, apiKey } = await startHubWithSite();
    try {
      const now = Math.floor(Date.now() / 1000);
      const records = [record({ request_id: 'col-1', timestamp: now }), record({ request_id: 'col-2', timestamp: now })];
      for (const keys of [[-1], [-1, 99_999], 'header:x-api-key', [-1, 1.5]]) {
        const body = toCompactUpsync({ version: '0.1.0', client: 'moat', framework: 'test' }, records);
        (body.columns as Record<string, unknown>).keys = keys;
        const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': COMPACT_TYPE }, body: JSON.stringify(body) });
        assert.equal(response.status, 400, JSON.stringify(keys));
      }
      assert.equal(hub.store.db.prepare("SELECT count(*) FROM reports WHERE request_id LIKE 'col-%'").pluck().get(), 0);
    } finally {
      await hub.stop();
    }
  });
});
