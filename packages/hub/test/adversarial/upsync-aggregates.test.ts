// Attack: compact upsync version 2 carries counts of Passed requests (`aggregates`), and each count is
// added into the site's totals, top lists and IP pages. Whoever holds an API key chooses those numbers:
// a forged count must never reach the rollups. Huge, negative, fractional or non-numeric counts, indexes
// outside the dictionary, more entries than a batch may hold and columns of the wrong length are refused
// whole with 400 before the store is touched; the hub then still takes a good batch, whose counts it adds
// exactly once (a retry with the same batch id adds nothing). Real hub, real SQLite, real HTTP.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, record, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { toCompactUpsync, type CompactUpsyncBody } from '../support/compact-upsync-batch.js';

const V2 = 'application/vnd.moat.upsync.v2+json';
const META = { version: '0.9.0', client: 'moat', framework: 'express' };

type Body = CompactUpsyncBody & { aggregates?: Record<string, unknown> };

/** One Passed record plus a count of 40 more of its key (the same strings, so the same indexes). */
function validBatch(tag: string, count = 40): Body {
  const base = toCompactUpsync(META, [record({ request_id: `${tag}-a`, rule_id: null, monitored: [], ip_source: 'socket' })]);
  const at = (text: string) => base.strings.indexOf(text);
  return {
    ...base,
    aggregates: {
      n: 1, ip: [at('203.0.113.9')], user_agent: [at('curl/8')], path: [at('/')], host: [at('example.test')], method: [at('GET')],
      timestamp: [0], count: [count],
    },
  };
}

const withAggregates = (b: Body, change: Record<string, unknown>): Body => ({ ...b, aggregates: { ...b.aggregates, ...change } });

const ATTACKS: { attack: string; body: (b: Body) => unknown }[] = [
  { attack: 'a count of 1e15 (a forged flood)', body: (b) => withAggregates(b, { count: [1e15] }) },
  { attack: 'a count one over the largest a minute can hold (10 000 001)', body: (b) => withAggregates(b, { count: [10_000_001] }) },
  { attack: 'a count beyond exact integers (1e300)', body: (b) => withAggregates(b, { count: [1e300] }) },
  { attack: 'a negative count (to erase real traffic)', body: (b) => withAggregates(b, { count: [-500] }) },
  { attack: 'a count of zero', body: (b) => withAggregates(b, { count: [0] }) },
  { attack: 'a fractional count', body: (b) => withAggregates(b, { count: [2.5] }) },
  { attack: 'a count given as the string "NaN"', body: (b) => withAggregates(b, { count: ['NaN'] }) },
  { attack: 'a count given as null (what JSON.stringify makes of NaN)', body: (b) => withAggregates(b, { count: [null] }) },
  { attack: 'a count given as a string of digits', body: (b) => withAggregates(b, { count: ['40'] }) },
  { attack: 'a path index outside the dictionary', body: (b) => withAggregates(b, { path: [b.strings.length] }) },
  { attack: 'a negative ip index', body: (b) => withAggregates(b, { ip: [-1] }) },
  { attack: 'a user_agent index of 1e9', body: (b) => withAggregates(b, { user_agent: [1e9] }) },
  { attack: 'a count column longer than aggregates.n', body: (b) => withAggregates(b, { count: [40, 40] }) },
  { attack: 'a missing host column', body: (b) => withAggregates(b, { host: undefined }) },
  { attack: 'aggregates.n = 0', body: (b) => withAggregates(b, { n: 0, ip: [], user_agent: [], path: [], host: [], method: [], timestamp: [], count: [] }) },
  { attack: 'a negative timestamp offset', body: (b) => withAggregates(b, { timestamp: [-3600] }) },
  { attack: 'aggregates as an array', body: (b) => ({ ...b, aggregates: [b.aggregates] }) },
  { attack: 'aggregates with a __proto__ key', body: (b) => JSON.stringify(b).replace('"aggregates":{', '"aggregates":{"__proto__":{"n":1},') },
  { attack: 'no records and no aggregates (n = 0)', body: (b) => ({ ...b, n: 0, aggregates: undefined, columns: Object.fromEntries(Object.keys(b.columns).map((k) => [k, []])) }) },
];

describe('compact upsync v2 attacks: forged counts never reach the totals', () => {
  let hub: TestHub;
  let siteId: number;
  let apiKey: string;
  let followUps = 0;
  const post = (body: string, headers: Record<string, string> = {}) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
    method: 'POST', headers: { 'content-type': V2, ...headers }, body,
  });
  const stored = () => hub.store.db.prepare('SELECT count(*) FROM reports WHERE site_id = ?').pluck().get(siteId) as number;
  const totals = async () => {
    while (await hub.store.rollUp() > 0);
    const now = Math.floor(Date.now() / 1000);
    return hub.store.totals(siteId, now - 86_400, now + 86_400);
  };

  /** A good batch still goes in: its record and its count, exactly. */
  const assertStillServing = async () => {
    const before = (await totals()).total;
    const response = await post(JSON.stringify(validBatch(`follow-up-${followUps++}`)));
    assert.equal(response.status, 200, await response.clone().text());
    const answer = (await response.json()) as { accepted: number; counted: number };
    assert.equal(answer.counted, 40);
    assert.equal((await totals()).total, before + 41);
  };

  before(async () => {
    hub = await startTestHub();
    const client = new Client(hub.url);
    await client.login();
    ({ siteId, apiKey } = await createSiteWithKey(client));
  });
  after(() => hub.stop());

  for (const { attack, body } of ATTACKS) {
    it(`a v2 batch with ${attack} is refused 400 and changes no total`, async () => {
      const rowsBefore = stored();
      const totalsBefore = await totals();
      const built = body(validBatch('attack'));
      const response = await post(typeof built === 'string' ? built : JSON.stringify(built));
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.ok((JSON.parse(text) as { message: string }).message.length > 0, 'the refusal explains itself');
      assert.equal(stored(), rowsBefore, 'nothing of the attack is stored');
      assert.deepEqual(await totals(), totalsBefore, 'no total moved');
      await assertStillServing();
    });
  }

  it('a v2 batch with 10 001 count entries (one over the records limit) is refused 400 before any is expanded', async () => {
    const b = validBatch('many');
    const n = 10_001;
    const fill = (v: number) => new Array<number>(n).fill(v);
    const a = b.aggregates as { ip: number[]; user_agent: number[]; path: number[]; host: number[]; method: number[] };
    const body = withAggregates(b, {
      n, ip: fill(a.ip[0]!), user_agent: fill(a.user_agent[0]!), path: fill(a.path[0]!), host: fill(a.host[0]!), method: fill(a.method[0]!),
      timestamp: fill(0), count: fill(1),
    });
    const before = await totals();
    const response = await post(JSON.stringify(body));
    assert.equal(response.status, 400, await response.clone().text());
    assert.deepEqual(await totals(), before);
    await assertStillServing();
  });

  it('a retried v2 batch (same batch id) adds its counts once', async () => {
    const before = await totals();
    const body = JSON.stringify(validBatch('retry', 1234));
    for (let i = 0; i < 3; i++) {
      const response = await post(body, { 'x-moat-batch-id': 'retry-batch-1' });
      assert.equal(response.status, 200, await response.clone().text());
    }
    const after = await totals();
    assert.equal(after.total - before.total, 1235);
    assert.equal(after.passed - before.passed, 1235);
  });

  it('a count entry with an empty IP is refused alone, its requests reported as rejected', async () => {
    const b = validBatch('empty-ip', 77);
    const body = { ...b, strings: [...b.strings, ''], aggregates: { ...b.aggregates, ip: [b.strings.length] } };
    const before = await totals();
    const response = await post(JSON.stringify(body));
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { accepted: number; rejected: number; counted: number };
    assert.equal(answer.rejected, 77, 'refused counts are told in requests');
    assert.equal(answer.counted, 0);
    assert.equal((await totals()).total - before.total, 1, 'only the record');
  });

  it('a v1 batch cannot smuggle counts: its aggregates are ignored', async () => {
    const before = await totals();
    const response = await post(JSON.stringify(validBatch('v1', 5000)), { 'content-type': 'application/vnd.moat.upsync.v1+json' });
    assert.equal(response.status, 200);
    assert.equal((await totals()).total - before.total, 1);
  });
});
