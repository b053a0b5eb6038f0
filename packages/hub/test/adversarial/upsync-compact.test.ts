// Attack: the compact upsync encoding is a second parser in front of the report store, reachable by anyone
// holding one API key (every deployed client does). Its indexes, counts and column lengths are the
// attacker's to choose: they must not crash the hub, read outside the dictionary, store half a batch,
// pollute prototypes or stall the event loop. Without a key, the body must cost nothing. Each test posts to
// `/v2/upsync/{key}` of a real hub (default limits: 8 MiB, 10 000 records) on a real socket, checks the
// answer, that nothing was stored, and that the hub still takes the next valid batch.
import { strict as assert } from 'node:assert';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, record, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { COMPACT_TYPE, toCompactUpsync, type CompactUpsyncBody } from '../support/compact-upsync-batch.js';
import { sendHeadOnly } from './raw-request.js';

const MB = 1024 * 1024;
const META = { version: '0.9.0', client: 'moat', framework: 'express' };

interface UpsyncAnswer { ok: boolean; accepted: number; rejected: number; clamped: number; errors: { index: number; reason: string }[] }

/** A valid two-record compact batch; attacks change one part of it. */
function validBatch(tag: string): CompactUpsyncBody {
  return toCompactUpsync(META, [
    record({ request_id: `${tag}-a`, rule_id: null, monitored: [], ip_source: 'socket' }),
    record({ request_id: `${tag}-b`, treatment: 'Blocked', category: 'bp', rule: '/x', rule_id: 'r-1', monitored: [{ category: 'bu', rule: 'curl', rule_id: 'm-1' }], ip_source: 'socket' }),
  ]);
}

/** Malformed envelopes: each is refused whole with 400 `invalid_compact_batch` (or the shape check's code). */
const MALFORMED: { attack: string; body: (b: CompactUpsyncBody) => unknown; error?: string }[] = [
  { attack: 'a path index one past the end of strings', body: (b) => ({ ...b, columns: { ...b.columns, path: [b.strings.length, 0] } }) },
  { attack: 'a negative user_agent index', body: (b) => ({ ...b, columns: { ...b.columns, user_agent: [0, -5] } }) },
  { attack: 'a null marker (-1) in the non-nullable ip column', body: (b) => ({ ...b, columns: { ...b.columns, ip: [-1, 0] } }) },
  { attack: 'a fractional index', body: (b) => ({ ...b, columns: { ...b.columns, host: [0.5, 0] } }) },
  { attack: 'an index given as a string', body: (b) => ({ ...b, columns: { ...b.columns, method: ['1', 1] } }) },
  { attack: 'an index given as null, true or an object', body: (b) => ({ ...b, columns: { ...b.columns, category: [null, true], rule: [{}, []] } }) },
  { attack: 'a monitored match with an index out of range', body: (b) => ({ ...b, columns: { ...b.columns, monitored: [[], [[0, 0, 1e6]]] } }) },
  { attack: 'a monitored match that is not a triple', body: (b) => ({ ...b, columns: { ...b.columns, monitored: [[], [[0, 0]]] } }) },
  { attack: 'a monitored list that is not a list', body: (b) => ({ ...b, columns: { ...b.columns, monitored: [[], 'x'] } }) },
  { attack: 'a column shorter than n', body: (b) => ({ ...b, columns: { ...b.columns, path: [0] } }) },
  { attack: 'a column longer than n', body: (b) => ({ ...b, columns: { ...b.columns, request_id: ['a', 'b', 'c'] } }) },
  { attack: 'n larger than the columns', body: (b) => ({ ...b, n: 3 }) },
  { attack: 'n = 0 with empty columns', body: (b) => ({ ...b, n: 0, columns: Object.fromEntries(Object.keys(b.columns).map((k) => [k, []])) }) },
  { attack: 'n = 1e9', body: (b) => ({ ...b, n: 1e9 }) },
  { attack: 'n as a string', body: (b) => ({ ...b, n: '2' }) },
  { attack: 'a missing column', body: (b) => ({ ...b, columns: { ...b.columns, ip_source: undefined } }) },
  { attack: 'columns as an array', body: (b) => ({ ...b, columns: Object.values(b.columns) }) },
  { attack: 'a number among the strings', body: (b) => ({ ...b, strings: [...b.strings.slice(0, -1), 42] }) },
  { attack: 'an object among the strings', body: (b) => ({ ...b, strings: [{ toString: 'x' }, ...b.strings.slice(1)] }) },
  { attack: 'strings as an object', body: (b) => ({ ...b, strings: { ...b.strings } }) },
  { attack: 'a request id that is a number', body: (b) => ({ ...b, columns: { ...b.columns, request_id: [1, 'x'] } }) },
  { attack: 'a negative timestamp offset', body: (b) => ({ ...b, columns: { ...b.columns, timestamp: [0, -3600] } }) },
  { attack: 'a fractional timestamp offset', body: (b) => ({ ...b, columns: { ...b.columns, timestamp: [0, 0.5] } }) },
  { attack: 'a timestamp offset of 1e20 (beyond exact integers)', body: (b) => ({ ...b, columns: { ...b.columns, timestamp: [0, 1e20] } }) },
  { attack: 'a fractional t0', body: (b) => ({ ...b, t0: b.t0 + 0.25 }) },
  { attack: 't0 as a string', body: (b) => ({ ...b, t0: String(b.t0) }) },
  { attack: 'a negative t0', body: (b) => ({ ...b, t0: -1 }) },
  { attack: 'a body that is an array', body: (b) => [b] },
  { attack: 'meta that is a string', body: (b) => ({ ...b, meta: 'moat' }) },
  {
    attack: 'monitored matches nested 100 levels deep', error: 'json_too_deep',
    body: (b) => JSON.stringify(b).replace('"monitored":[', `"monitored":[${'['.repeat(100)}${']'.repeat(100)},`),
  },
];

describe('compact upsync attacks: the envelope is checked whole before anything is stored', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  let followUps = 0;
  const post = (body: string | Uint8Array, headers: Record<string, string> = {}, key = apiKey) => fetch(`${hub.url}/v2/upsync/${key}`, {
    method: 'POST', headers: { 'content-type': COMPACT_TYPE, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const stored = () => hub.store.db.prepare('SELECT count(*) FROM reports WHERE site_id = ?').pluck().get(siteId) as number;
  const errorOf = async (response: Response) => ((await response.json()) as { error: string; message: string });

  /** The hub still takes a valid compact batch, and stores all of it. */
  const assertStillServing = async () => {
    const before = stored();
    const tag = `follow-up-${followUps++}`;
    const response = await post(JSON.stringify(validBatch(tag)));
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(((await response.json()) as UpsyncAnswer).accepted, 2);
    assert.equal(stored(), before + 2);
  };
  /** Posts an attack; expects the status (and error code), nothing stored, and the hub still serving. */
  const assertRefused = async (body: string | Uint8Array, status: number, error: string | undefined, headers: Record<string, string> = {}) => {
    const before = stored();
    const response = await post(body, headers);
    const text = await response.text();
    assert.equal(response.status, status, text);
    const answer = JSON.parse(text) as { error: string; message: string };
    if (error) assert.equal(answer.error, error, text);
    assert.ok(answer.message.length > 0, 'the refusal explains itself');
    assert.equal(stored(), before, 'nothing of the attack is stored');
    await assertStillServing();
    return answer;
  };

  before(async () => {
    hub = await startTestHub();
    client = new Client(hub.url);
    await client.login();
    ({ siteId, apiKey } = await createSiteWithKey(client));
  });
  after(() => hub.stop());

  it('a compact batch with a bad API key is answered 401 before its announced 8 MB gzip body is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', '/v2/upsync/moat_not_a_key', {
      'content-type': COMPACT_TYPE, 'content-encoding': 'gzip', 'content-length': String(8 * MB),
    });
    assert.equal(answer.status, 401);
  });

  it('a compact batch with a bad API key and 5.9 MB of nesting is answered 401 invalid_api_key, unparsed', async () => {
    const response = await post(`${'['.repeat(2_950_000)}${']'.repeat(2_950_000)}`, {}, 'moat_not_a_key');
    assert.equal(response.status, 401);
    assert.equal((await errorOf(response)).error, 'invalid_api_key');
    await assertStillServing();
  });

  it('a compact body announced over 8 MiB is refused 413 before it is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', `/v2/upsync/${apiKey}`, { 'content-type': COMPACT_TYPE, 'content-length': String(9 * MB) });
    assert.equal(answer.status, 413);
    await assertStillServing();
  });

  for (const { attack, body, error } of MALFORMED) {
    it(`a compact batch with ${attack} is refused 400 and stores nothing`, async () => {
      const built = body(validBatch('attack'));
      await assertRefused(typeof built === 'string' ? built : JSON.stringify(built), 400, error ?? 'invalid_compact_batch');
    });
  }

  it('the refusal names the bad column and position', async () => {
    const b = validBatch('named');
    const answer = await assertRefused(JSON.stringify({ ...b, columns: { ...b.columns, path: [0, 99_999] } }), 400, 'invalid_compact_batch');
    assert.match(answer.message, /columns\.path\[1\]/);
  });

  it('a compact batch of 10 001 records (one over the limit) is refused 400 before any is expanded', async () => {
    const records = Array.from({ length: 10_001 }, (_, i) => record({ request_id: `over-${i}`, ip_source: 'socket', monitored: [] }));
    const answer = await assertRefused(gzipSync(JSON.stringify(toCompactUpsync(META, records))), 400, 'invalid_compact_batch', { 'content-encoding': 'gzip' });
    assert.match(answer.message, /at most 10000 records/);
  });

  it('a dictionary of 1 M tiny strings is refused 400 from its bytes, before it is parsed', async () => {
    const b = validBatch('dictionary');
    const strings = `${b.strings.map((s) => JSON.stringify(s)).join(',')},${'"x",'.repeat(1_000_000)}"x"`;
    const text = JSON.stringify({ ...b, strings: [] }).replace('"strings":[]', `"strings":[${strings}]`);
    await assertRefused(gzipSync(text), 400, 'json_too_complex', { 'content-encoding': 'gzip' });
  });

  it('a 10 MB string in the dictionary is refused 413: it does not fit the inflated body limit', async () => {
    const b = validBatch('huge-string');
    await assertRefused(gzipSync(JSON.stringify({ ...b, strings: [...b.strings, 'A'.repeat(10 * MB)] })), 413, 'body_too_large', { 'content-encoding': 'gzip' });
  });

  it('a 7 MB string used as every record\'s path is stored cut to the path limit, as in the Wafris form', async () => {
    const b = validBatch('long-path');
    const strings = [...b.strings, `/${'p'.repeat(7 * MB)}`];
    const response = await post(gzipSync(JSON.stringify({ ...b, strings, columns: { ...b.columns, path: [strings.length - 1, strings.length - 1] } })), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as UpsyncAnswer).accepted, 2);
    const lengths = hub.store.db.prepare("SELECT length(path) FROM reports WHERE request_id LIKE 'long-path-%'").pluck().all();
    assert.deepEqual(lengths, [2048, 2048]);
  });

  it('a gzip bomb inflating to 32 MB is refused 413', async () => {
    await assertRefused(gzipSync(Buffer.alloc(32 * MB, 0x20)), 413, 'body_too_large', { 'content-encoding': 'gzip' });
  });

  it('a __proto__ key in columns is refused 400 and pollutes no prototype', async () => {
    const b = validBatch('proto');
    const text = JSON.stringify(b).replace('"columns":{', '"columns":{"__proto__":{"polluted":[0,0],"ip":[0,0]},');
    await assertRefused(text, 400, 'invalid_compact_batch');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('a __proto__ key in meta, or a constructor.prototype in meta, is refused 400 and pollutes no prototype', async () => {
    const b = validBatch('proto-meta');
    await assertRefused(JSON.stringify(b).replace('"meta":{', '"meta":{"__proto__":{"polluted":"yes"},'), 400, 'invalid_compact_batch');
    await assertRefused(JSON.stringify(b).replace('"meta":{', '"meta":{"constructor":{"prototype":{"polluted":"yes"}},'), 400, 'invalid_compact_batch');
    await assertRefused(JSON.stringify(b).replace('{"meta"', '{"__proto__":{"n":2},"meta"'), 400, 'invalid_compact_batch');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('a column named constructor (not a known column) cannot stand in for a missing one', async () => {
    const b = validBatch('constructor');
    const { ip: _ip, ...withoutIp } = b.columns;
    await assertRefused(JSON.stringify({ ...b, columns: { ...withoutIp, constructor: [0, 0] } }), 400, 'invalid_compact_batch');
  });

  it('timestamp offsets past the year 5138 are refused record by record, the rest of the batch is stored', async () => {
    const b = validBatch('far-offset');
    const response = await post(JSON.stringify({ ...b, columns: { ...b.columns, timestamp: [0, 2 ** 52] } }));
    assert.equal(response.status, 200);
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(answer.accepted, 1);
    assert.equal(answer.rejected, 1);
    assert.deepEqual(answer.errors.map((e) => e.index), [1]);
    assert.match(answer.errors[0]!.reason, /^timestamp/);
    assert.deepEqual(hub.store.db.prepare("SELECT request_id FROM reports WHERE request_id LIKE 'far-offset-%'").pluck().all(), ['far-offset-a']);
  });

  it('a record listing 100 000 monitored matches is refused alone, as an over-long list is in the Wafris form', async () => {
    const b = validBatch('monitor-flood');
    const flood = Array.from({ length: 100_000 }, () => [0, 0, -1]);
    const response = await post(gzipSync(JSON.stringify({ ...b, columns: { ...b.columns, monitored: [[], flood] } })), { 'content-encoding': 'gzip' });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as UpsyncAnswer;
    assert.equal(answer.accepted, 1);
    assert.deepEqual(answer.errors.map((e) => e.index), [1]);
    assert.match(answer.errors[0]!.reason, /^monitored/);
    assert.deepEqual(hub.store.db.prepare("SELECT request_id FROM reports WHERE request_id LIKE 'monitor-flood-%'").pluck().all(), ['monitor-flood-a']);
    await assertStillServing();
  });

  it('an unknown extra column is ignored, whatever it holds', async () => {
    const b = validBatch('extra-column');
    const response = await post(JSON.stringify({ ...b, columns: { ...b.columns, status: [200, 403], later: { nested: [[1]] } } }));
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as UpsyncAnswer).accepted, 2);
  });

  it('a Wafris JSON body sent under the compact content type is refused 400, not half-read', async () => {
    await assertRefused(JSON.stringify({ meta: META, batch: [record({ request_id: 'wrong-form' })] }), 400, 'invalid_compact_batch');
  });
});
