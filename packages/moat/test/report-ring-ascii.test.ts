// The ring writer copies ASCII strings a byte per unit and hands anything else to Buffer.write: every
// string, whatever mix of ASCII and other text and wherever the first non-ASCII unit sits (or whether
// it is a lone surrogate), must come out of the reader as Buffer.write would have written it, and an
// ASCII string must take one byte per character.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision } from '../src/engine/decision.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import { createRing, ringViews, usedBytes } from '../src/report/ring-layout.js';
import { RingReader } from '../src/report/ring-reader.js';
import { RingWriter } from '../src/report/ring-writer.js';
import { FIELD_LIMITS, type QueuedRecord } from '../src/sync/report-record.js';

const PASSED: Decision = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] };

function request(url: string, params: string | undefined): MoatHttpRequest {
  return {
    ip: '203.0.113.7', ipSource: 'socket', method: 'GET', host: 'shop.example', hostForms: undefined, path: '/p', pathForms: undefined,
    params, userAgent: 'ua', headers: {}, url,
  } as MoatHttpRequest;
}

function roundTrip(query: string, params: string): QueuedRecord {
  const sab = createRing(256 * 1024);
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab, 'aaaaaaaa-bbbb-cccc-dddd-');
  assert.ok(writer.write(PASSED, request(`/p?${query}`, params), 1));
  const out: QueuedRecord[] = [];
  reader.drain((r) => out.push(r));
  assert.equal(out.length, 1);
  return out[0]!;
}

/** What the record must hold: the text through UTF-8 and back (a lone surrogate becomes U+FFFD). */
const viaUtf8 = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

test('query and parameter strings round-trip whatever the position of their first non-ASCII unit', () => {
  const tails = ['', 'é', '😀', '\ud800', '\udfff', 'ü=ö&x', '\u007f\u0080'];
  for (const length of [0, 1, 7, 63, 255, 256, 257, 1000]) {
    const prefix = 'a=1&b=2&'.repeat(130).slice(0, length);
    for (const tail of tails) {
      const text = prefix + tail;
      if (text === '') continue;
      const record = roundTrip(text, text);
      const limit = (max: number) => text.length > max ? undefined : viaUtf8(text);
      const wantQuery = limit(FIELD_LIMITS.target);
      const wantParams = limit(FIELD_LIMITS.params);
      if (wantQuery !== undefined) assert.equal(record.query, wantQuery, `query of length ${length} + ${JSON.stringify(tail)}`);
      if (wantParams !== undefined) assert.equal(record.params, wantParams, `params of length ${length} + ${JSON.stringify(tail)}`);
    }
  }
});

test('an ASCII query takes one byte per character in the ring', () => {
  const sab = createRing(64 * 1024);
  const writer = new RingWriter(sab);
  const { header } = ringViews(sab);
  writer.write(PASSED, request('/p?q=' + 'x'.repeat(8), undefined), 1);
  writer.write(PASSED, request('/p?q=' + 'x'.repeat(40), undefined), 1);
  const before = usedBytes(header);
  writer.write(PASSED, request('/p?q=' + 'x'.repeat(48), undefined), 1);
  const longer = usedBytes(header) - before;
  const before2 = usedBytes(header);
  writer.write(PASSED, request('/p?q=' + 'x'.repeat(40), undefined), 1);
  const shorter = usedBytes(header) - before2;
  assert.equal(longer - shorter, 8, 'eight more ASCII characters take eight more bytes');
});
