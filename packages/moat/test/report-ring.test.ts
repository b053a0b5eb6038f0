// The shared ring between the serving thread and the report worker, writer and reader in one thread:
// every field round-trips, interned strings cost an id after their first record, the string tables start
// afresh at their bounds, cut values carry the marker, a full ring refuses whole records, and nothing
// is read twice or skipped across the wrap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision } from '../src/engine/decision.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import { RingReader } from '../src/report/ring-reader.js';
import { createRing, ringViews, usedBytes } from '../src/report/ring-layout.js';
import { RingWriter } from '../src/report/ring-writer.js';
import { MAX_INTERNED } from '../src/report/string-interner.js';
import { FIELD_LIMITS, TRUNCATED_MARKER, type QueuedRecord } from '../src/sync/report-record.js';

const PASSED: Decision = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] };

function request(over: Partial<MoatHttpRequest> = {}): MoatHttpRequest {
  return {
    ip: '203.0.113.7', ipSource: 'socket', method: 'GET', host: 'shop.example', hostForms: undefined, path: '/', pathForms: undefined,
    params: undefined, userAgent: 'Mozilla/5.0 (test)', headers: {}, url: '/', ...over,
  } as MoatHttpRequest;
}

function pair(ringBytes = 64 * 1024) {
  const sab = createRing(ringBytes);
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab, 'aaaaaaaa-bbbb-cccc-dddd-');
  const read = (): QueuedRecord[] => {
    const out: QueuedRecord[] = [];
    reader.drain((r) => out.push(r));
    return out;
  };
  return { sab, writer, reader, read };
}

test('every field round-trips; request ids come from the header or a per-process counter', () => {
  const { writer, read } = pair();
  const blocked: Decision = {
    treatment: 'Blocked', category: 'bp', rule: '/wp-admin', ruleId: 'r-17',
    monitored: [{ category: 'bu', rule: 'curl', ruleId: 'm-1' }, { category: 'bi', rule: '198.51.100.1', ruleId: 'm-2' }],
  };
  assert.ok(writer.write(blocked, request({ path: '/wp-admin/x', url: '/wp-admin/x?a=1&b=%20', params: 'a=1&b= ', headers: { 'x-request-id': 'req-9' } }), 1_764_633_600_123));
  assert.ok(writer.write(PASSED, request(), 1_764_633_601_000));
  assert.ok(writer.write(PASSED, request(), 1_764_633_601_000));
  const [a, b, c] = read();
  assert.deepEqual({ ...a, bytes: 0, receivedMs: 0 }, {
    ip: '203.0.113.7', ipSource: 'socket', userAgent: 'Mozilla/5.0 (test)', path: '/wp-admin/x', host: 'shop.example', method: 'GET',
    requestId: 'req-9', atMs: 1_764_633_600_123, treatment: 'Blocked', category: 'bp', rule: '/wp-admin', ruleId: 'r-17',
    monitored: [{ category: 'bu', rule: 'curl', ruleId: 'm-1' }, { category: 'bi', rule: '198.51.100.1', ruleId: 'm-2' }],
    query: 'a=1&b=%20', params: 'a=1&b= ', bytes: 0, receivedMs: 0,
  });
  assert.equal(b.ruleId, null);
  assert.equal(b.query, '');
  assert.equal(b.params, undefined);
  assert.equal(b.requestId, 'aaaaaaaa-bbbb-cccc-dddd-000000000001');
  assert.equal(c.requestId, 'aaaaaaaa-bbbb-cccc-dddd-000000000002');
  assert.equal(c.userAgent, 'Mozilla/5.0 (test)');
});

test('a repeated record costs the fixed head only: its strings are ids after the first time', () => {
  const { sab, writer, read } = pair();
  const { header } = ringViews(sab);
  writer.write(PASSED, request(), 1);
  const first = usedBytes(header);
  writer.write(PASSED, request(), 1);
  const second = usedBytes(header) - first;
  assert.ok(second <= 80, `a repeated record takes ${second} bytes`); // the head: ids, flags, time, request-id counter, sequence number
  assert.ok(first > second + 40, `the first carried its strings: ${first}`);
  assert.equal(read().length, 2);
});

test('non-ASCII values survive; a lone surrogate becomes U+FFFD instead of breaking the record', () => {
  const { writer, read } = pair();
  writer.write(PASSED, request({ path: '/café/😀', userAgent: 'bad\ud800agent', headers: { 'x-request-id': 'id-\udfff' } }), 1);
  writer.write(PASSED, request({ path: '/café/😀', userAgent: 'bad\ud800agent' }), 1);
  const [a, b] = read();
  assert.equal(a.path, '/café/😀');
  assert.equal(a.userAgent, 'bad\ufffdagent');
  assert.equal(a.requestId, 'id-\ufffd');
  assert.equal(b.path, '/café/😀', 'the interned copy too');
});

test('values over their limit are cut with the marker and never interned; a 1 MB value costs a bounded slot', () => {
  const { sab, writer, read } = pair();
  const { header } = ringViews(sab);
  const huge = `/${'p'.repeat(1024 * 1024)}`;
  assert.ok(writer.write(PASSED, request({ path: huge, url: `${huge}?q=${'v'.repeat(1024 * 1024)}`, userAgent: 'u'.repeat(1024 * 1024) }), 1));
  const used = usedBytes(header);
  assert.ok(used < 3 * (FIELD_LIMITS.path + FIELD_LIMITS.userAgent + FIELD_LIMITS.target) / 2, `slot of ${used} bytes`);
  const [r] = read();
  assert.equal(r.path.length, FIELD_LIMITS.path);
  assert.ok(r.path.endsWith(TRUNCATED_MARKER));
  assert.equal(r.userAgent.length, FIELD_LIMITS.userAgent);
  assert.equal(r.query.length, FIELD_LIMITS.target);
  assert.equal(writer.truncated, 1);
  // A long value is written whole each time (not kept in a table).
  writer.write(PASSED, request({ path: huge }), 1);
  assert.equal(read()[0].path, r.path);
});

test('a flood of unique values: the tables start afresh at their bound and the ids stay right', () => {
  const { writer, read } = pair(1024 * 1024);
  const total = MAX_INTERNED * 2 + 100;
  const seen: string[] = [];
  for (let i = 0; i < total; i++) {
    // A value from before the reset comes back: it must be written again, not referred to by a stale id.
    const ua = i % 7 === 0 ? 'agent/common' : `agent/${i}`;
    assert.ok(writer.write(PASSED, request({ userAgent: ua, path: `/p/${i % 50}` }), i));
    if (i % 500 === 0) for (const r of read()) seen.push(`${r.userAgent} ${r.path}`);
  }
  for (const r of read()) seen.push(`${r.userAgent} ${r.path}`);
  assert.equal(seen.length, total);
  for (let i = 0; i < total; i++) assert.equal(seen[i], `${i % 7 === 0 ? 'agent/common' : `agent/${i}`} /p/${i % 50}`);
  const interners = (writer as unknown as { interners: { size: number }[] }).interners;
  assert.ok(interners.every((t) => t.size <= MAX_INTERNED), 'every table within its bound');
});

test('a full ring refuses whole records; after the reader frees room, writing goes on across the wrap without loss or repeat', () => {
  const { writer, read } = pair(64 * 1024);
  let written = 0;
  let refused = 0;
  const order: number[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 400; i++) {
      const n = round * 400 + i;
      if (writer.write(PASSED, request({ path: `/item/${n}/${'x'.repeat(n % 300)}`, headers: { 'x-request-id': String(n) } }), n)) written++;
      else refused++;
    }
    for (const r of read()) order.push(Number(r.requestId));
  }
  assert.ok(refused > 0, 'the ring did fill');
  assert.equal(order.length, written, 'every written record read once');
  for (let k = 1; k < order.length; k++) assert.ok(order[k] > order[k - 1], 'in order, none twice');
});
