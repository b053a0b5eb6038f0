// The optional `status` of an upsync record (for status-based threshold rules): the fast record check
// gives exactly the schema's result for any status value, and anything but an integer 100–599 is null.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fastRecord } from '../src/ingest/fast-upsync-parse.js';
import { upsyncRecordSchema } from '../src/ingest/upsync-schema.js';

const base = { ip: '192.0.2.1', user_agent: 'ua', path: '/login', parameter: '', host: 'h', method: 'POST', request_id: 'r', timestamp: 1_700_000_000, treatment: 'Passed' };

describe('upsync record status', () => {
  it('the fast path and the schema agree on every status value', () => {
    const status = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double(), fc.string({ maxLength: 5 }), fc.constant(null), fc.constant(undefined), fc.boolean(), fc.constant({}));
    fc.assert(fc.property(status, fc.boolean(), (value, present) => {
      const raw: Record<string, unknown> = present ? { ...base, status: value } : { ...base };
      const fast = fastRecord(raw);
      assert.ok(fast, 'a plain record takes the fast path');
      assert.deepStrictEqual(fast, upsyncRecordSchema.parse(raw));
    }), { numRuns: 2000 });
  });

  it('keeps 100–599 and reads anything else as not known', () => {
    for (const [value, expected] of [[401, 401], [100, 100], [599, 599], [99, null], [600, null], [401.5, null], ['401', null], [null, null]] as const) {
      assert.equal(fastRecord({ ...base, status: value })?.status, expected, String(value));
    }
    assert.equal('status' in fastRecord(base)!, false, 'absent stays absent');
  });
});
