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

test('the same request again is a 32-byte repeat entry: each read back whole, with its own time, request id and query', () => {
  const { sab, writer, read } = pair();
  const { header } = ringViews(sab);
  const same = () => request({ path: '/products/42', url: '/products/42?page=2&sort=price', params: 'page=2&sort=price' });
  // A run's first record is not kept as a base (alternating traffic then stores nothing): the second is.
  assert.ok(writer.write(PASSED, same(), 1000));
  assert.ok(writer.write(PASSED, same(), 1001));
  const firstTwo = usedBytes(header);
  assert.ok(firstTwo > 2 * 80, 'two full records');
  for (let i = 2; i < 100; i++) assert.ok(writer.write(PASSED, same(), 1000 + i));
  assert.equal(usedBytes(header) - firstTwo, 98 * 32, 'every later one a repeat entry');
  const records = read();
  assert.equal(records.length, 100);
  records.forEach((r, i) => {
    assert.deepEqual({ ...r, requestId: '', atMs: 0, receivedMs: 0 }, { ...records[0], requestId: '', atMs: 0, receivedMs: 0 });
    assert.equal(r.atMs, 1000 + i);
    assert.equal(r.requestId, `aaaaaaaa-bbbb-cccc-dddd-${(i + 1).toString(16).padStart(12, '0')}`);
    assert.equal(r.query, 'page=2&sort=price');
    assert.equal(r.params, 'page=2&sort=price');
  });
});

test('anything a repeat cannot carry ends the run: another field, query, decision, parameters, request id, monitor match or keys', () => {
  const { sab, writer, read } = pair();
  const { header } = ringViews(sab);
  const base = request({ path: '/a', url: '/a?x=1' });
  const blocked: Decision = { treatment: 'Blocked', category: 'bp', rule: '/a', ruleId: 'r-1', monitored: [] };
  const odd: [string, Decision, MoatHttpRequest][] = [
    ['ip', PASSED, { ...base, ip: '198.51.100.9' }],
    ['user agent', PASSED, { ...base, userAgent: 'other/1' }],
    ['no user agent', PASSED, { ...base, userAgent: undefined }],
    ['path', PASSED, { ...base, path: '/b', url: '/b?x=1' }],
    ['query', PASSED, { ...base, url: '/a?x=2' }],
    ['host', PASSED, { ...base, host: 'other.example' }],
    ['method', PASSED, { ...base, method: 'POST' }],
    ['ip source', PASSED, { ...base, ipSource: 'x-forwarded-for' }],
    ['decision', blocked, base],
    ['rule id', { ...blocked, ruleId: 'r-2' }, base],
    ['parameters', PASSED, { ...base, params: 'x=1&y=2' }],
    ['other parameters (a body)', PASSED, { ...base, params: 'x=1&y=3' }],
    ['request id', PASSED, { ...base, headers: { 'x-request-id': 'req-1' } }],
    ['monitor match', { ...PASSED, monitored: [{ category: 'bu', rule: 'curl', ruleId: 'm-1' }] }, base],
    ['keys', { ...PASSED, reportKeys: `header:x-api-key=${'a'.repeat(32)}` }, base],
  ];
  const expected: string[] = [];
  for (const [name, decision, req] of odd) {
    writer.write(PASSED, base, 1);
    writer.write(PASSED, base, 2);
    const before = usedBytes(header);
    writer.write(decision, req, 3);
    assert.ok(usedBytes(header) - before > 32, `${name}: a record in full`);
    writer.write(decision, req, 4);
    writer.write(decision, req, 5); // repeats its own record when it can, never the one before
    expected.push('base', 'base', name, name, name);
  }
  const records = read();
  assert.equal(records.length, expected.length);
  for (let i = 0; i < records.length; i += 5) {
    const [, decision, req] = odd[i / 5]!;
    for (const r of records.slice(i, i + 2)) assert.deepEqual([r.ip, r.path, r.query, r.treatment, r.params, r.userAgent], ['203.0.113.7', '/a', 'x=1', 'Passed', undefined, 'Mozilla/5.0 (test)']);
    for (const r of records.slice(i + 2, i + 5)) {
      assert.deepEqual([r.ip, r.path, r.host, r.method, r.ipSource, r.userAgent, r.treatment, r.ruleId, r.monitored.length, r.keys],
        [req.ip, req.path, req.host, req.method, req.ipSource, req.userAgent ?? '', decision.treatment, decision.ruleId, decision.monitored.length, decision.reportKeys]);
      assert.equal(r.query, req.url.slice(req.url.indexOf('?') + 1));
      assert.equal(r.params, req.params);
    }
  }
  for (let k = 2; k < 5; k++) assert.equal(records[5 * 12 + k]!.requestId, 'req-1');
});

test('request ids: x-request-id, then x-amzn-trace-id, cf-ray, fly-request-id; empty and non-string values are skipped; a repeat never stands for a request with an id', () => {
  const { writer, read } = pair();
  const cases: [Record<string, unknown>, string | null][] = [
    [{ 'x-request-id': 'a-1', 'x-amzn-trace-id': 'b', 'cf-ray': 'c', 'fly-request-id': 'd' }, 'a-1'],
    [{ 'x-amzn-trace-id': 'Root=1-2', 'cf-ray': 'c', 'fly-request-id': 'd' }, 'Root=1-2'],
    [{ 'cf-ray': '8f00-AMS', 'fly-request-id': 'd' }, '8f00-AMS'],
    [{ 'fly-request-id': '01J-fly' }, '01J-fly'],
    [{ 'x-request-id': '', 'cf-ray': 'ray-2' }, 'ray-2'],
    [{ 'x-request-id': ['x', 'y'], 'fly-request-id': 'fly-2' }, 'fly-2'],
    [{ 'x-request-id': '' }, null],
    [{}, null],
  ];
  // Each case twice after the same request without an id: the first two make a repeat base, so a
  // record whose only difference is its id must come in full, with its own id.
  for (const [headers] of cases) {
    writer.write(PASSED, request(), 1);
    writer.write(PASSED, request(), 2);
    writer.write(PASSED, request({ headers: headers as MoatHttpRequest['headers'] }), 3);
    writer.write(PASSED, request({ headers: headers as MoatHttpRequest['headers'] }), 4);
  }
  const records = read();
  assert.equal(records.length, cases.length * 4);
  cases.forEach(([, id], i) => {
    for (const r of records.slice(4 * i + 2, 4 * i + 4)) {
      if (id === null) assert.match(r.requestId, /^aaaaaaaa-bbbb-cccc-dddd-[0-9a-f]{12}$/);
      else assert.equal(r.requestId, id);
    }
    for (const r of records.slice(4 * i, 4 * i + 2)) assert.match(r.requestId, /^aaaaaaaa-bbbb-cccc-dddd-[0-9a-f]{12}$/);
  });
  // Generated ids are never repeated, repeats included.
  const generated = records.map((r) => r.requestId).filter((id) => id.startsWith('aaaaaaaa-'));
  assert.equal(new Set(generated).size, generated.length);
});

test('repeats after their base was read and its room handed back, across many wraps of the ring: none lost, none twice', () => {
  const { writer, read } = pair(64 * 1024);
  const seen: number[] = [];
  let n = 0;
  for (let round = 0; round < 300; round++) {
    // Runs of 1 to 40 of one request, so bases sit anywhere: read in the run's middle, copied out, wrapped.
    const path = `/run/${round % 3}`;
    const length = 1 + ((round * 7) % 40);
    for (let i = 0; i < length; i++) {
      assert.ok(writer.write(PASSED, request({ path, url: `${path}?n=${round % 3}` }), n++));
      if (i % 13 === 5) for (const r of read()) seen.push(r.atMs);
    }
    if (round % 2 === 0) for (const r of read()) seen.push(r.atMs);
  }
  for (const r of read()) seen.push(r.atMs);
  assert.equal(seen.length, n);
  seen.forEach((at, i) => assert.equal(at, i, 'in order, each once'));
});

test('a repeat refused for want of room is counted by the caller, and the next request goes in full to a reader that never saw its base', () => {
  const { sab, writer, read } = pair(64 * 1024);
  const same = request({ path: '/flood', url: '/flood' });
  let written = 0;
  while (writer.write(PASSED, same, written)) written++;
  assert.ok(written > 1000, `${written} written before the ring filled`);
  assert.equal(read().length, written);
  // A new worker starts after a reset (the old one died): it knows no base, so the next write must carry one.
  writer.reset();
  const fresh = new RingReader(sab, 'ffffffff-bbbb-cccc-dddd-');
  assert.ok(writer.write(PASSED, same, 1));
  assert.ok(writer.write(PASSED, same, 2));
  const out: QueuedRecord[] = [];
  fresh.drain((r) => out.push(r));
  assert.deepEqual(out.map((r) => [r.path, r.atMs]), [['/flood', 1], ['/flood', 2]]);
});

test('repeats that await their status: the drain stops at one whose status has not come and takes it once when it has', async () => {
  const { StatusJoin } = await import('../src/report/status-join.js');
  const { sab, writer, reader } = pair();
  const join = new StatusJoin(60_000, ringViews(sab).counters);
  const out: QueuedRecord[] = [];
  const drain = (force = false) => reader.drain((r) => out.push(r), Infinity, null, join, force);
  const same = request({ path: '/s', url: '/s' });
  const seqs: number[] = [];
  for (let i = 0; i < 6; i++) {
    assert.ok(writer.write(PASSED, same, i, true));
    seqs.push(writer.lastSeq);
  }
  for (const [i, status] of [[0, 200], [1, 404], [2, 200]] as const) writer.writeStatus(seqs[i]!, status);
  drain();
  drain();
  assert.deepEqual(out.map((r) => [r.atMs, r.status]), [[0, 200], [1, 404], [2, 200]], 'the fourth waits for its status');
  for (const [i, status] of [[3, 500], [5, 201], [4, 200]] as const) writer.writeStatus(seqs[i]!, status);
  drain();
  // A slow machine may have moved the waiting ones into the join (after RING_HOLD_MS): they then come in status order.
  out.sort((a, b) => a.atMs - b.atMs);
  assert.deepEqual(out.map((r) => [r.atMs, r.status, r.requestId.slice(-2)]),
    [[0, 200, '01'], [1, 404, '02'], [2, 200, '03'], [3, 500, '04'], [4, 200, '05'], [5, 201, '06']]);
});

test('a status that finishes before the next request rides on the next entry, or on the LAST_STATUS words for the newest record: no status entry, each record once with its own status, across the sequence wrap', async () => {
  const { StatusJoin } = await import('../src/report/status-join.js');
  const { ENTRY_STATUS } = await import('../src/report/ring-layout.js');
  const { sab, writer, reader } = pair();
  const ring = ringViews(sab);
  const join = new StatusJoin(60_000, ring.counters);
  const out: QueuedRecord[] = [];
  const drain = (force = false) => reader.drain((r) => out.push(r), Infinity, null, join, force);
  const statusEntries = () => {
    let n = 0;
    for (let p = 0; p < usedBytes(ring.header); p += ring.words[(p >> 2) + 1]!) if (ring.words[p >> 2] === ENTRY_STATUS) n++;
    return n;
  };
  writer.lastSeq = -3; // the next numbers are -2, -1, then 1 (0 is skipped)
  const same = request({ path: '/s', url: '/s' });
  const statuses = [200, 404, 200, 201, 200, 500, 200, 200];
  for (let i = 0; i < statuses.length; i++) {
    // Another path in the middle: a full record carries the status too.
    assert.ok(writer.write(PASSED, i === 4 ? request({ path: '/o', url: '/o' }) : same, i, true));
    assert.ok(writer.holdStatus(writer.lastSeq, statuses[i]!), 'the last record\'s status is held');
  }
  assert.equal(statusEntries(), 0, 'no status entry was written');
  assert.equal(writer.holdStatus(writer.lastSeq - 1, 200), false, 'an older record\'s status is not held');
  assert.equal(writer.holdStatus(writer.lastSeq, 1024), false, 'a status the word cannot hold is not held');
  drain();
  // The newest record's status is in the LAST_STATUS words only; every other one in the entry after it.
  assert.deepEqual(out.map((r) => [r.atMs, r.status]), statuses.map((s, i) => [i, s]));
  assert.equal(new Set(out.map((r) => r.requestId)).size, statuses.length);
  // Nothing comes twice when the words are read again, and a later status entry for an older record still joins it.
  drain(true);
  assert.equal(out.length, statuses.length);
  assert.ok(writer.write(PASSED, same, 8, true));
  const late = writer.lastSeq;
  assert.ok(writer.write(PASSED, same, 9, true));
  assert.equal(writer.holdStatus(late, 401), false);
  assert.ok(writer.writeStatus(late, 401));
  assert.ok(writer.holdStatus(writer.lastSeq, 204));
  drain();
  assert.deepEqual(out.slice(statuses.length).map((r) => [r.atMs, r.status]), [[8, 401], [9, 204]]);
  assert.equal(join.size, 0);
});

test('property: whatever order statuses come in (held for the next entry, a status entry, or never) and wherever drains fall, each record is read once, with its own status when one was written', async () => {
  const { StatusJoin } = await import('../src/report/status-join.js');
  const fc = (await import('fast-check')).default;
  // One step: a request (a repeat of the last path or another), a response finishing (the newest
  // record's status can be held; an older one's goes in a status entry), or a drain.
  const step = fc.oneof(
    fc.record({ kind: fc.constant('request' as const), other: fc.boolean() }),
    fc.record({ kind: fc.constant('finish' as const), back: fc.nat({ max: 12 }), status: fc.constantFrom(200, 201, 204, 301, 404, 500) }),
    fc.record({ kind: fc.constant('drain' as const) }),
  );
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), fc.boolean(), (steps, abandonSome) => {
    const { sab, writer, reader } = pair();
    const join = new StatusJoin(60_000, ringViews(sab).counters);
    const out: QueuedRecord[] = [];
    const drain = (force = false) => reader.drain((r) => out.push(r), Infinity, null, join, force);
    const written: number[] = []; // seq of each record, by atMs
    const expected = new Map<number, number>(); // atMs → status written for it
    for (const s of steps) {
      if (s.kind === 'request') {
        const path = s.other ? `/o${written.length}` : '/same';
        assert.ok(writer.write(PASSED, request({ path, url: path }), written.length, true));
        written.push(writer.lastSeq);
      } else if (s.kind === 'finish') {
        // The `back`-th newest record whose status is not written yet (a response finishes once).
        const open = written.map((seq, at) => [seq, at] as const).filter(([, at]) => !expected.has(at));
        const target = open[open.length - 1 - s.back];
        if (target === undefined) continue;
        const [seq, at] = target;
        expected.set(at, s.status);
        if (!writer.holdStatus(seq, s.status)) assert.ok(writer.writeStatus(seq, s.status));
      } else drain();
    }
    if (!abandonSome) {
      // Every response finishes in the end, newest first or oldest first does not matter.
      for (let at = 0; at < written.length; at++) {
        if (expected.has(at)) continue;
        expected.set(at, 200);
        if (!writer.holdStatus(written[at]!, 200)) assert.ok(writer.writeStatus(written[at]!, 200));
      }
      drain();
    }
    drain(true);
    join.releaseAll((r) => out.push(r));
    const got = out.map((r) => r.atMs).sort((a, b) => a - b);
    assert.deepEqual(got, written.map((_, at) => at), 'every record once');
    for (const r of out) assert.equal(r.status, expected.get(r.atMs), `record ${r.atMs}'s status`);
  }), { numRuns: 300 });
});

test('a drain reads at most `max` entries, repeat entries included, and says when it stopped there', () => {
  const { writer, reader } = pair(256 * 1024);
  // Distinct records, then a flood of one request (repeat entries): 600 entries in all.
  for (let i = 0; i < 100; i++) assert.ok(writer.write(PASSED, request({ path: `/p${i}`, url: `/p${i}` }), 1_764_633_600_000 + i));
  for (let i = 0; i < 500; i++) assert.ok(writer.write(PASSED, request({ path: '/same', url: '/same' }), 1_764_633_700_000 + i));
  const out: QueuedRecord[] = [];
  let drains = 0;
  let position = reader.position;
  do {
    reader.drain((r) => out.push(r), 64);
    drains++;
    // Each entry is at least 32 bytes (a repeat): 64 of them move the position by at least 2 KiB unless it ended.
    assert.ok(!reader.stoppedAtMax || reader.position - position >= 64 * 32, `drain ${drains} stopped early`);
    position = reader.position;
  } while (reader.stoppedAtMax && drains < 100);
  assert.equal(reader.stoppedAtMax, false);
  assert.equal(drains, Math.ceil(600 / 64));
  assert.equal(out.length, 600);
  assert.deepEqual(out.slice(98, 102).map((r) => r.path), ['/p98', '/p99', '/same', '/same']);
});
