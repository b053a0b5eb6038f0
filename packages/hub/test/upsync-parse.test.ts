import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkUpsyncRecord, fastRecord } from '../src/ingest/fast-upsync-parse.js';
import { MAX_LISTED_REJECTIONS, upsyncBatchSorter } from '../src/ingest/upsync-batch.js';
import { upsyncRecordSchema } from '../src/ingest/upsync-schema.js';
import { REPORT_MAX_AHEAD_SECONDS } from '../src/store/report-rows.js';
import { jsonShapeProblem, JsonShapeScanner, type JsonShapeLimits, type JsonShapeProblem } from '../src/server/json-shape.js';

const MAX = 20;
const NOW = 1_800_000_000;
const times = { receivedAt: NOW, oldestKept: 0 };
const sort = upsyncBatchSorter(MAX);

function schemaOutcome(raw: unknown): { ok: true; value: unknown } | { ok: false } {
  const parsed = upsyncRecordSchema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false };
}
function checkedOutcome(raw: unknown): { ok: true; value: unknown } | { ok: false } {
  const checked = checkUpsyncRecord(raw);
  return 'record' in checked ? { ok: true, value: checked.record } : { ok: false };
}

const maybeString = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.constant(null), fc.constant(undefined), fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Infinity, -0), fc.boolean(), fc.constant({}));
const recordArb = fc.record({
  ip: fc.oneof(fc.constantFrom('1.2.3.4', '2001:db8::1', ''), fc.string({ maxLength: 70 }), fc.integer()),
  user_agent: maybeString(1100), path: maybeString(30), parameter: maybeString(30), host: maybeString(300),
  method: maybeString(20), request_id: maybeString(20),
  timestamp: fc.oneof(fc.integer({ min: -5, max: 2e9 }), fc.double(), fc.constantFrom('1700000000', 'x', 1e12), fc.constant(undefined)),
  treatment: fc.constantFrom('Passed', 'Blocked', 'Allowed', 'passed', 'BLOCKED', 'nope', 3),
  category: maybeString(40), rule: maybeString(20), rule_id: maybeString(80), ip_source: maybeString(80),
  monitored: fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant([]), fc.constant([{ category: 'bp', rule: '/x', rule_id: 'm-1' }]), fc.constant('x')),
  extra: fc.anything({ maxDepth: 1 }),
}, { requiredKeys: [] });

describe('upsync record checks', () => {
  it('the fast path gives exactly the schema\'s result, or fails where the schema fails', () => {
    fc.assert(fc.property(recordArb, (raw) => {
      assert.deepStrictEqual(checkedOutcome(raw), schemaOutcome(raw));
      const fast = fastRecord(raw);
      if (fast !== undefined) assert.deepStrictEqual({ ok: true, value: fast }, schemaOutcome(raw));
    }), { numRuns: 1000 });
  });

  it('takes plain records, numbers included, on the fast path with the schema\'s result', () => {
    const plainText = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.constant(null), fc.constant(undefined), fc.integer(), fc.boolean());
    const plain = fc.record({
      ip: fc.string({ minLength: 1, maxLength: 64 }), user_agent: plainText(1100), path: plainText(2100), parameter: plainText(10),
      host: plainText(260), method: plainText(20), request_id: plainText(130), timestamp: fc.double({ min: 0, max: 1e11, noNaN: true }),
      treatment: fc.constantFrom('Passed', 'Blocked', 'Allowed'), category: plainText(40), rule: plainText(20),
      rule_id: plainText(70), ip_source: plainText(70), monitored: fc.constantFrom(undefined, null),
    }, { requiredKeys: ['ip', 'timestamp', 'treatment'] });
    fc.assert(fc.property(plain, (raw) => {
      const fast = fastRecord(raw);
      assert.ok(fast !== undefined, 'plain records take the fast path');
      assert.deepStrictEqual(fast, upsyncRecordSchema.parse(raw));
    }), { numRuns: 500 });
  });

  it('reads the Wafris gem\'s numeric rate-limit rule id as text', () => {
    const gem = { ip: '1.2.3.4', user_agent: 'ua', path: '/login', parameter: '', host: 'h', method: 'POST', request_id: 'r', timestamp: NOW, treatment: 'Blocked', category: 'brl', rule: 17 };
    const checked = checkUpsyncRecord(gem);
    assert.ok('record' in checked);
    assert.equal(checked.record.rule, '17');
  });
});

describe('upsync batch sorting', () => {
  const good = (i: number) => ({ ip: `198.51.100.${i}`, timestamp: NOW - 60, treatment: 'Passed', request_id: `g${i}` });

  it('keeps the good records of a mixed batch and lists the bad ones by index', () => {
    const batch = sort({ meta: { client: 'wafris', version: '2', framework: 'rails' }, batch: [good(1), { ip: '', timestamp: NOW, treatment: 'Passed' }, good(2), 'x', { ...good(3), treatment: 'Exploded' }] }, times);
    assert.deepEqual(batch.accepted.map((r) => r.request_id), ['g1', 'g2']);
    assert.equal(batch.rejectedCount, 3);
    assert.deepEqual(batch.rejected.map((r) => r.index), [1, 3, 4]);
    assert.match(batch.rejected[0]!.reason, /^ip: /);
    assert.equal(batch.meta.client, 'wafris');
  });

  it('moves far-future timestamps to the receipt time and refuses ones older than retention', () => {
    const batch = sort({ batch: [
      { ...good(1), timestamp: 1e11 - 1 },
      { ...good(2), timestamp: NOW + REPORT_MAX_AHEAD_SECONDS },
      { ...good(3), timestamp: 1000 },
    ] }, { receivedAt: NOW, oldestKept: NOW - 86_400 });
    assert.deepEqual(batch.accepted.map((r) => [r.request_id, r.timestamp]), [['g1', NOW], ['g2', NOW + REPORT_MAX_AHEAD_SECONDS]]);
    assert.equal(batch.clamped, 1);
    assert.deepEqual(batch.rejected, [{ index: 2, reason: 'timestamp: older than the hub keeps reports' }]);
  });

  it('counts every refusal but lists at most a bounded number', () => {
    const batch = sort({ batch: Array.from({ length: MAX }, () => ({ ip: '' })) }, times);
    assert.equal(batch.rejectedCount, MAX);
    assert.equal(batch.rejected.length, Math.min(MAX, MAX_LISTED_REJECTIONS));
    assert.equal(batch.accepted.length, 0);
  });

  it('refuses only an unusable envelope as a whole, and reads a bad meta as empty', () => {
    for (const bad of [null, [], 'x', { batch: 'x' }, { batch: new Array(MAX + 1).fill(good(1)) }]) assert.throws(() => sort(bad, times));
    assert.deepEqual(sort({ meta: 'x', batch: [good(1)] }, times).meta, { version: '', client: '', framework: '' });
  });
});

describe('JSON shape scanner', () => {
  const depthOf = (v: unknown): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depthOf))
    : v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
  const loose: JsonShapeLimits = { maxDepth: 1000, maxObjectKeys: 1e9, maxArrayItems: 1e9, maxValues: 1e9 };

  it('measures the nesting JSON.parse would build, strings with brackets, quotes and escapes included', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 9 }), (value, limit) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const problem = jsonShapeProblem(bytes, { ...loose, maxDepth: limit });
      assert.equal(problem?.kind === 'too_deep', depthOf(value) > limit, JSON.stringify(value));
    }), { numRuns: 1000 });
  });

  it('gives the same answer fed in pieces as fed whole', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 }), (value, cut, limit) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const scanner = new JsonShapeScanner({ ...loose, maxDepth: limit, maxObjectKeys: 3, maxArrayItems: 4 });
      let pieces: JsonShapeProblem | null = null;
      for (let at = 0; at < bytes.length && pieces === null; at += cut) pieces = scanner.feed(bytes.subarray(at, at + cut));
      assert.deepEqual(pieces, jsonShapeProblem(bytes, { ...loose, maxDepth: limit, maxObjectKeys: 3, maxArrayItems: 4 }));
    }), { numRuns: 1000 });
  });

  it('counts keys per object and items per array at every depth', () => {
    const limits = { ...loose, maxObjectKeys: 3, maxArrayItems: 3 };
    assert.equal(jsonShapeProblem(Buffer.from('{"a":[1,2,3],"b":{"c":1,"d":2,"e":3},"f":"x,y,z,w"}'), limits), null);
    assert.deepEqual(jsonShapeProblem(Buffer.from('{"a":1,"b":2,"c":3,"d":4}'), limits), { kind: 'too_many_keys', limit: 3 });
    assert.deepEqual(jsonShapeProblem(Buffer.from('[[1],[1,2,3,4]]'), limits), { kind: 'too_many_items', limit: 3 });
    assert.deepEqual(jsonShapeProblem(Buffer.from('[1,2,[3,4],5]'), { ...loose, maxValues: 4 }), { kind: 'too_many_values', limit: 4 });
  });
});
