// Attack: with one valid API key, make the hub's upsync do work that grows faster than the body, or hold the
// event loop for the whole batch. The compact form is the lever: one dictionary string can stand for a
// field of every record, so any per-record step that reads a whole field multiplies the body by the record
// count: a 7 MB string named as the treatment of 10 000 records held the loop ~110 s (the schema folded
// its case once per record), a 3 MB emoji string as their ip ~47 s (the schema counted its code points
// once per record). Work is counted, never timed: characters read from strings (the client's
// string-reads helper), event-loop turns given up, what a real hub answers and stores.
import { strict as assert } from 'node:assert';
import { gzipSync, deflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { stringReads } from '../../../moat/test/helpers/string-reads.js';
import { compactUpsyncLimits, expandCompactUpsync } from '../../src/ingest/compact-upsync.js';
import { checkUpsyncRecord } from '../../src/ingest/fast-upsync-parse.js';
import { SORT_SLICE, upsyncBatchSorter, upsyncBatchSorterInSlices } from '../../src/ingest/upsync-batch.js';
import { MAX_FIELD_LENGTH } from '../../src/ingest/upsync-schema.js';
import { record, startHubWithSite, upsyncBody, type TestHub } from '../support/hub-fixture.js';
import { COMPACT_TYPE, toCompactUpsync, type CompactUpsyncBody } from '../support/compact-upsync-batch.js';

const MB = 1024 * 1024;
const META = { version: '0.9.0', client: 'moat', framework: 'express' };
const NOW = Math.floor(Date.now() / 1000);
const times = { receivedAt: NOW, oldestKept: NOW - 86_400 };
/** Every string field a compact column can name from the dictionary. */
const STRING_COLUMNS = ['ip', 'user_agent', 'path', 'parameter', 'host', 'method', 'ip_source', 'treatment', 'category', 'rule', 'rule_id', 'keys'] as const;
/** Characters a record's checks may read whatever its values' lengths: the field limits, several times over. */
const READS_PER_RECORD = 16 * 1024;

interface UpsyncAnswer { ok: boolean; accepted: number; rejected: number; clamped: number; errors: { index: number; reason: string }[] }

/** n plain records as a compact body; `named` columns then all name one extra dictionary string. */
function compactBatch(n: number, tag: string, long?: string, named: readonly string[] = []): CompactUpsyncBody {
  const body = toCompactUpsync(META, Array.from({ length: n }, (_, i) => record({ request_id: `${tag}-${i}`, rule_id: null, monitored: [], ip_source: 'socket' })));
  if (long === undefined) return body;
  const at = body.strings.length;
  body.strings.push(long);
  for (const column of named) body.columns[column] = Array.from({ length: n }, () => at);
  return body;
}

describe('hostile upsync batches: work grows with the body, not with body × records', () => {
  it('a record check reads a bounded part of each field but the ip, however long the value (a 1 MB treatment is not case-folded)', () => {
    const long = 'P'.repeat(MB);
    // The schema measures an over-long ip whole: once per copy in a Wafris body, so linear there; the
    // compact form, which could repeat it, cuts it first (next tests).
    for (const field of [...STRING_COLUMNS.filter((c) => c !== 'ip'), 'request_id']) {
      for (const value of [long, long.toLowerCase(), `passed${long}`]) {
        let outcome: ReturnType<typeof checkUpsyncRecord> | undefined;
        const reads = stringReads(() => {
          outcome = checkUpsyncRecord(record({ [field]: value, monitored: [{ category: value, rule: value, rule_id: value }] }));
        });
        assert.ok(reads < READS_PER_RECORD, `${field}: ${reads} characters read for one record`);
        assert.ok(outcome !== undefined);
      }
    }
    // The cut keeps every answer: a long treatment is still refused, a short one in any case still read.
    assert.match((checkUpsyncRecord(record({ treatment: long })) as { reason: string }).reason, /^treatment/);
    assert.equal((checkUpsyncRecord(record({ treatment: 'bLOCKED' })) as { record: { treatment: string } }).record.treatment, 'Blocked');
  });

  it('a compact dictionary entry named by every record reaches the record checks cut to one character over the longest field', () => {
    const long = 'x'.repeat(MB);
    const body = compactBatch(3, 'cut', long, STRING_COLUMNS.filter((c) => c !== 'keys'));
    body.columns.keys = [body.strings.length - 1, -1, -1];
    body.columns.monitored = [[[body.strings.length - 1, body.strings.length - 1, body.strings.length - 1]], [], []];
    const expanded = expandCompactUpsync(JSON.parse(JSON.stringify(body)), compactUpsyncLimits(10_000, 8 * 1024 * 1024));
    const longest = (value: unknown): number => (typeof value === 'string' ? value.length
      : typeof value === 'object' && value !== null ? Math.max(0, ...Object.values(value).map(longest)) : 0);
    assert.equal(longest(expanded.batch), MAX_FIELD_LENGTH + 1);
    assert.equal((expanded.batch[0]!.keys as string).length, MAX_FIELD_LENGTH + 1);
  });

  it('1 000 records naming one 1 MB string in every column are expanded and judged reading no more than their field limits', () => {
    // Emoji: a two-byte string with surrogate pairs, the kind a code-point count must walk to the end.
    const body = compactBatch(1_000, 'amplified', '\u{1F600}'.repeat(MB / 2), STRING_COLUMNS);
    const parsed: unknown = JSON.parse(JSON.stringify(body));
    const sort = upsyncBatchSorter(10_000);
    let rejected = 0;
    const reads = stringReads(() => {
      // A bound on expansion far above this batch's: what is measured here is reading, not storing.
      rejected = sort(expandCompactUpsync(parsed, compactUpsyncLimits(10_000, 64 * MB)), times).rejectedCount;
    });
    assert.equal(rejected, 1_000, 'an IP of 2 049 characters refuses every record');
    // Unbounded, this is 1 000 × 1 MB at least once (the ip's code points): 1e9.
    assert.ok(reads < 1_000 * READS_PER_RECORD, `${reads} characters read`);
  });

  it('the route\'s sorter gives the event loop a turn at least every 1 000 records, with the one-go sorter\'s result', async () => {
    // Records that miss the fast path (a lower-case treatment, monitored matches) cost the schema's ~20–60 µs each.
    const batch = Array.from({ length: 10_000 }, (_, i) => record({ request_id: `slow-${i}`, treatment: i % 7 === 0 ? 'x' : 'passed', monitored: [{ category: 'bu', rule: 'r', rule_id: null }] }));
    const body = JSON.parse(JSON.stringify(upsyncBody(batch))) as unknown;
    let turns = 0;
    let sorting = true;
    const tick = () => {
      if (!sorting) return;
      turns += 1;
      setImmediate(tick);
    };
    setImmediate(tick);
    const sliced = await upsyncBatchSorterInSlices(10_000)(body, times);
    sorting = false;
    // A turn at least every 1 000 records (SORT_SLICE, measured): nine between ten slices.
    assert.ok(SORT_SLICE <= 1_000 && turns >= 9, `${turns} turns given up while sorting 10 000 records`);
    assert.deepEqual(sliced, upsyncBatchSorter(10_000)(body, times));
    assert.equal(sliced.accepted.length, 10_000 - Math.ceil(10_000 / 7));
  });
});

describe('hostile upsync batches against a real hub: answered 200 or 4xx with a code, never stalled or 500', () => {
  let hub: TestHub;
  let siteId: number;
  let apiKey: string;
  let followUps = 0;
  const post = (body: string | Uint8Array, type: string, headers: Record<string, string> = {}) => fetch(`${hub.url}/v2/upsync/${apiKey}`, {
    method: 'POST', headers: { 'content-type': type, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const stored = (like = '%') => hub.store.db.prepare('SELECT count(*) FROM reports WHERE site_id = ? AND request_id LIKE ?').pluck().get(siteId, like) as number;
  const answerOf = async (response: Response) => {
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text) as UpsyncAnswer;
  };
  const assertStillServing = async () => {
    const tag = `follow-up-${followUps++}`;
    const answer = await answerOf(await post(JSON.stringify(compactBatch(2, tag)), COMPACT_TYPE));
    assert.equal(answer.accepted, 2);
    assert.equal(stored(`${tag}-%`), 2);
  };

  before(async () => {
    ({ hub, siteId, apiKey } = await startHubWithSite());
  });
  after(() => hub.stop());

  for (const column of ['treatment', 'ip', 'keys'] as const) {
    // 3 000 records: each names 2 049 characters of it once cut, within what one request may expand to.
    it(`3 000 records naming one 6.5 MB string as their ${column} are each refused, nothing stored`, async () => {
      const tag = `long-${column}`;
      const long = column === 'treatment' ? 'P'.repeat(6.5 * MB) : column === 'ip' ? '\u{1F600}'.repeat(1.6 * MB) : '1'.repeat(6.5 * MB);
      const body = compactBatch(3_000, tag, long, [column]);
      const answer = await answerOf(await post(gzipSync(JSON.stringify(body)), COMPACT_TYPE, { 'content-encoding': 'gzip' }));
      assert.deepEqual({ accepted: answer.accepted, rejected: answer.rejected, listed: answer.errors.length }, { accepted: 0, rejected: 3_000, listed: 20 });
      assert.match(answer.errors[0]!.reason, new RegExp(`^${column}`));
      assert.equal(stored(`${tag}-%`), 0);
      await assertStillServing();
    });
  }

  it('400 records naming one 6.5 MB string in every other text column are stored, each field cut to its limit', async () => {
    const tag = 'long-everywhere';
    const columns = ['user_agent', 'path', 'parameter', 'host', 'method', 'ip_source', 'category', 'rule', 'rule_id'];
    const answer = await answerOf(await post(gzipSync(JSON.stringify(compactBatch(400, tag, 'a'.repeat(6.5 * MB), columns))), COMPACT_TYPE, { 'content-encoding': 'gzip' }));
    assert.equal(answer.accepted, 400);
    const lengths = hub.store.db.prepare(`SELECT DISTINCT length(user_agent), length(path), length(parameter), length(host), length(method), length(ip_source),
      length(category), length(rule), length(rule_id) FROM reports WHERE request_id LIKE ?`).raw().all(`${tag}-%`);
    assert.deepEqual(lengths, [[1024, 2048, 2048, 255, 16, 64, 32, 1024, 64]]);
    await assertStillServing();
  });

  it('a compact body that would store far more than it weighs (long strings named by 10 000 records, 16 monitored matches each) is refused 413, nothing stored', async () => {
    // The dictionary lets 1.6 MB name 2 KB fields and 16 monitored rules in every record: stored, that
    // was about 250 MB from one request. A request may now expand to what a Wafris body of the same
    // limit could hold; a Moat client answers the 413 by sending the batch in halves.
    const tag = 'amplified-store';
    const body = compactBatch(10_000, tag, 'p'.repeat(2048), ['path', 'parameter', 'user_agent', 'rule']);
    const at = body.strings.length - 1;
    body.columns.monitored = Array.from({ length: 10_000 }, () => Array.from({ length: 16 }, () => [at, at, at]));
    const bytes = gzipSync(JSON.stringify(body));
    assert.ok(bytes.length < 2 * MB, `${bytes.length} bytes sent`);
    const response = await post(bytes, COMPACT_TYPE, { 'content-encoding': 'gzip' });
    const text = await response.text();
    assert.equal(response.status, 413, text);
    assert.equal(JSON.parse(text).error, 'compact_batch_too_large');
    assert.equal(stored(`${tag}-%`), 0);
    // The same records in halves of halves, as the client splits them, are stored once small enough.
    const small = compactBatch(500, `${tag}-small`, 'p'.repeat(2048), ['path', 'parameter', 'user_agent', 'rule']);
    assert.equal((await answerOf(await post(JSON.stringify(small), COMPACT_TYPE))).accepted, 500);
    await assertStillServing();
  });

  it('10 000 Wafris records that all miss the fast path (monitored lists to the value budget) are all stored', async () => {
    const tag = 'schema-path';
    const batch = Array.from({ length: 10_000 }, (_, i) => ({
      ip: '203.0.113.7', timestamp: NOW, treatment: 'passed', request_id: `${tag}-${i}`,
      monitored: Array.from({ length: 13 }, () => ({ category: 'b', rule: 'r', rule_id: 'i' })),
    }));
    const answer = await answerOf(await post(gzipSync(JSON.stringify(upsyncBody(batch))), 'application/json', { 'content-encoding': 'gzip' }));
    assert.equal(answer.accepted, 10_000);
    assert.equal(stored(`${tag}-%`), 10_000);
    await assertStillServing();
  });

  it('records of 30 duplicate keys and a __proto__ key are read by their own last value and pollute no prototype', async () => {
    const tag = 'dup-keys';
    const one = (i: number) => `{"__proto__":{"ip":"9.9.9.9","polluted":1},${Array.from({ length: 30 }, (_, k) => `"ip":"198.51.100.${k}"`).join(',')},`
      + `"treatment":"Passed","timestamp":${NOW},"request_id":"${tag}-${i}"}`;
    const text = `{"batch":[${Array.from({ length: 10_000 }, (_, i) => one(i)).join(',')}]}`;
    const answer = await answerOf(await post(gzipSync(text), 'application/json', { 'content-encoding': 'gzip' }));
    assert.equal(answer.accepted, 10_000);
    assert.deepEqual(hub.store.db.prepare('SELECT DISTINCT ip FROM reports WHERE request_id LIKE ?').pluck().all(`${tag}-%`), ['198.51.100.29']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('numbers of 7 MB of digits or with huge exponents are read as numbers, and refused where a number does not fit', async () => {
    const tag = 'numbers';
    const body = JSON.stringify(upsyncBody([record({ request_id: `${tag}-0`, timestamp: '@' }), record({ request_id: `${tag}-1`, timestamp: '#', user_agent: '%' })]))
      .replace('"@"', `1${'0'.repeat(7 * MB)}`).replace('"#"', '1e999999999').replace('"%"', `0.${'3'.repeat(1000)}e-99999`);
    const answer = await answerOf(await post(body, 'application/json'));
    assert.deepEqual({ accepted: answer.accepted, rejected: answer.rejected }, { accepted: 0, rejected: 2 });
    assert.ok(answer.errors.every((e) => /^timestamp/.test(e.reason)), JSON.stringify(answer.errors));
  });

  it('gzip that is truncated, fails its check, carries trailing garbage or a broken second member is refused 400 malformed_body', async () => {
    const good = gzipSync(JSON.stringify(upsyncBody([record({ request_id: 'gzip-good' })])));
    const bad: [string, Buffer][] = [
      ['truncated', good.subarray(0, good.length - 5)],
      ['a wrong CRC', Buffer.concat([good.subarray(0, good.length - 8), Buffer.alloc(4), good.subarray(good.length - 4)])],
      ['trailing garbage', Buffer.concat([good, Buffer.from('garbage')])],
      ['a broken second member', Buffer.concat([good, good.subarray(0, 12)])],
      ['a zlib stream, not gzip', deflateSync(JSON.stringify(upsyncBody([record()])))],
    ];
    for (const [what, body] of bad) {
      const response = await post(body, 'application/json', { 'content-encoding': 'gzip' });
      const text = await response.text();
      assert.equal(response.status, 400, `${what}: ${text}`);
      assert.equal((JSON.parse(text) as { error: string }).error, 'malformed_body', what);
    }
    assert.equal(stored('gzip-good'), 0);
    // Members one after another inflate as one text (RFC 1952), as gzip(1) reads them.
    const halves = Buffer.concat([gzipSync('{"batch":'), gzipSync(`[${JSON.stringify(record({ request_id: 'gzip-members' }))}]}`)]);
    assert.equal((await answerOf(await post(halves, 'application/json', { 'content-encoding': 'gzip' }))).accepted, 1);
    await assertStillServing();
  });
});
