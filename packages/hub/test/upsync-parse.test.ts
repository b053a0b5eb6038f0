import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { upsyncBodyParser } from '../src/ingest/fast-upsync-parse.js';
import { upsyncBodySchema } from '../src/ingest/upsync-schema.js';

const MAX = 20;
const schema = upsyncBodySchema(MAX);
const fast = upsyncBodyParser(MAX);

function outcome(parse: (b: unknown) => unknown, body: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parse(body) };
  } catch {
    return { ok: false };
  }
}

const maybeString = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.constant(null), fc.constant(undefined), fc.integer());
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

describe('fast upsync body parser', () => {
  it('gives exactly the schema\'s result, or fails where the schema fails', () => {
    fc.assert(fc.property(
      fc.oneof(fc.constant(undefined), fc.constant(null), fc.record({ version: maybeString(70), client: maybeString(70), framework: maybeString(10) }, { requiredKeys: [] })),
      fc.array(recordArb, { maxLength: MAX + 2 }),
      (meta, batch) => {
        const body = { meta, batch };
        const expected = outcome((b) => schema.parse(b), body);
        const actual = outcome(fast, body);
        assert.deepStrictEqual(actual, expected);
      },
    ), { numRuns: 400 });
  });

  it('matches the schema on plain records, which take the fast path', () => {
    const plainText = (max: number) => fc.oneof(fc.string({ maxLength: max }), fc.constant(null), fc.constant(undefined));
    const plain = fc.record({
      ip: fc.string({ minLength: 1, maxLength: 64 }), user_agent: plainText(1100), path: plainText(2100), parameter: plainText(10),
      host: plainText(260), method: plainText(20), request_id: plainText(130), timestamp: fc.double({ min: 0, max: 1e11, noNaN: true }),
      treatment: fc.constantFrom('Passed', 'Blocked', 'Allowed'), category: plainText(40), rule: plainText(20),
      rule_id: plainText(70), ip_source: plainText(70), monitored: fc.constantFrom(undefined, null),
    }, { requiredKeys: ['ip', 'timestamp', 'treatment'] });
    fc.assert(fc.property(fc.array(plain, { minLength: 1, maxLength: MAX }), (batch) => {
      const body = { meta: { version: '1', client: 'c', framework: 'f' }, batch };
      assert.deepStrictEqual(fast(body), schema.parse(body));
    }), { numRuns: 300 });
  });

  it('takes the plain shape clients send and refuses non-objects', () => {
    const record = { ip: '1.2.3.4', user_agent: 'ua', path: '/', parameter: '', host: 'h', method: 'GET', request_id: 'r', timestamp: 1700000000.7, treatment: 'Blocked', category: 'bi', rule: '1.2.3.4' };
    const parsed = fast({ meta: { version: '1', client: 'moat', framework: 'x' }, batch: [record] });
    assert.deepStrictEqual(parsed, schema.parse({ meta: { version: '1', client: 'moat', framework: 'x' }, batch: [record] }));
    assert.equal(parsed.batch[0]!.timestamp, 1700000000);
    for (const bad of [null, [], 'x', { batch: 'x' }, { batch: new Array(MAX + 1).fill(record) }]) assert.throws(() => fast(bad));
  });
});
