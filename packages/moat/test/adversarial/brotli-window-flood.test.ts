// A brotli body declaring a 16 MiB window is 14 bytes on the wire and ~40 ms of a libuv thread-pool
// thread to inflate, whatever the read limit (the decoder fills the window before any output). A flood
// of them must not take the whole pool: brotli inflations pass a gate of two at once, 64 waiting. A body
// that finds the queue full goes without its inflated reading, counted and told; everything else about the
// request is still judged, so a flood never opens a way past the other rules. When nothing else blocks, it
// fails open (503 with failClosed).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as zlib from 'node:zlib';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { windowedInflateGate, inflatesThroughGate, InflateGate, INFLATIONS_AT_ONCE, INFLATIONS_WAITING } from '../../src/http/inflate-gate.js';
import type { MoatErrorEvent } from '../../src/firewall/options.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';
import { sendOpen as send } from './request-apps.js';

const FORM = 'application/x-www-form-urlencoded';
const rules = rulesFile({ block: { params: ['<script'], paths: ['/admin'] } });
after(() => rules.cleanup());

/** `q=<script>` then 16 MiB of `a`, at brotli's largest window: a few bytes that inflate to 16 MiB. */
const BOMB = zlib.brotliCompressSync(Buffer.concat([Buffer.from('q=%3Cscript%3E&a='), Buffer.alloc(16 << 20, 0x61)]),
  { params: { [zlib.constants.BROTLI_PARAM_LGWIN]: 24 } });
const bombRequest = { method: 'POST', path: '/form', headers: { 'content-type': FORM, 'content-encoding': 'br' }, body: BOMB };

/**
 * Counts live brotli decoders, from creation to close, by wrapping Node's own factory (the real decoder
 * runs): what the gate claims is checked from outside it.
 */
function countDecoders(): { peak: () => number; created: () => number; restore: () => void } {
  // The module object itself (an ESM namespace is read-only); syncBuiltinESMExports carries the change to
  // every `import * as zlib` (inflate-body.ts's among them).
  const zlibModule = createRequire(import.meta.url)('node:zlib') as typeof zlib;
  const original = zlibModule.createBrotliDecompress;
  let live = 0;
  let peak = 0;
  let created = 0;
  // Node defines it read-only but configurable.
  const replace = (value: typeof original) => Object.defineProperty(zlibModule, 'createBrotliDecompress', { value });
  replace(((options?: zlib.BrotliOptions) => {
    const stream = original(options);
    created++;
    live++;
    if (live > peak) peak = live;
    stream.once('close', () => live--);
    return stream;
  }) as typeof original);
  syncBuiltinESMExports();
  return {
    peak: () => peak,
    created: () => created,
    restore: () => {
      replace(original);
      syncBuiltinESMExports();
    },
  };
}

async function server(firewall: Firewall): Promise<{ port: number; server: Server }> {
  const s = createServer(withMoat((_req, res) => res.end('app'), firewall));
  return { port: await listen(s), server: s };
}

test('the gate runs two jobs at once, queues 64 in order and refuses the next', async () => {
  const gate = new InflateGate(2, 3);
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const job = (n: number) => () => new Promise<number>((resolve) => {
    started.push(n);
    releases.push(() => resolve(n));
  });
  const runs = [1, 2, 3, 4, 5].map((n) => gate.run(job(n)));
  assert.equal(gate.run(job(6)), null, 'the fourth waiting job is refused');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(gate.stats(), { running: 2, peakRunning: 2, waiting: 3, waited: 3, refused: 1 });
  // Each release hands its place to the next in line, never to two.
  for (let i = 0; i < 5; i++) {
    releases[i]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [1, 2, 3, 4, 5].slice(0, Math.min(5, i + 3)), 'the next in line starts, in order');
    assert.equal(gate.stats().running, Math.min(2, 4 - i));
  }
  assert.deepEqual(await Promise.all(runs), [1, 2, 3, 4, 5]);
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  assert.deepEqual(gate.stats(), { running: 0, peakRunning: 2, waiting: 0, waited: 3, refused: 1 });
});

// zstd (Node 22+) allocates the window its frame declares, up to 128 MiB, as brotli does: it shares the
// gate. Node 20, where these tests run, has no zstd decoder, so only the routing is checked here.
test('brotli and zstd bodies are inflated through the gate; gzip and deflate, whose window is 32 KiB, are not', () => {
  assert.deepEqual(['br', 'zstd', 'gzip', 'deflate', 'identity'].map(inflatesThroughGate), [true, true, false, false, false]);
});

test('forty brotli bombs at once: at most two decoders alive, every bomb judged and blocked', async () => {
  const decoders = countDecoders();
  const firewall = createFirewall({ rules: rules.path });
  const { port, server: s } = await server(firewall);
  try {
    const before = windowedInflateGate.stats();
    const answers = await Promise.all(Array.from({ length: 40 }, () => send(port, bombRequest)));
    assert.deepEqual(answers.map((a) => a.status), Array(40).fill(403), 'the payload before the bomb is read and blocked');
    assert.equal(decoders.created(), 40);
    assert.ok(decoders.peak() <= INFLATIONS_AT_ONCE, `at most ${INFLATIONS_AT_ONCE} decoders alive, saw ${decoders.peak()}`);
    const after = windowedInflateGate.stats();
    assert.ok(after.waited > before.waited, 'bombs arriving together waited their turn');
    assert.equal(after.refused, before.refused);
    assert.equal(firewall.stats().bodiesUninspected.busy, 0);
    assert.equal(firewall.stats().bodiesUninspected.tooLarge, 40, 'each judged on its first body.limit bytes');
  } finally {
    decoders.restore();
    await close(s);
    firewall.close();
  }
});

test('a brotli body that finds the queue full goes without its inflated reading: the rest is judged, then it fails open (503 with failClosed), counted busy and told', async () => {
  const open = createFirewall({ rules: rules.path, logger: { error() {}, warn() {}, info() {} } });
  const closed = createFirewall({ rules: rules.path, failClosed: true, logger: { error() {}, warn() {}, info() {} } });
  const events: MoatErrorEvent[] = [];
  open.addErrorListener((event) => events.push(event));
  const a = await server(open);
  const b = await server(closed);
  // Fill the process's gate: two running, 64 waiting, each held until released.
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  const fillers = Array.from({ length: INFLATIONS_AT_ONCE + INFLATIONS_WAITING }, () => windowedInflateGate.run(() => held));
  try {
    assert.ok(fillers.every((f) => f !== null));
    const refusedBefore = windowedInflateGate.stats().refused;
    const passed = await send(a.port, bombRequest);
    assert.deepEqual([passed.status, passed.body], [200, 'app'], 'fail open: the app answers');
    assert.equal((await send(b.port, bombRequest)).status, 503, 'failClosed: 503');
    assert.equal(windowedInflateGate.stats().refused, refusedBefore + 2);
    const stats = open.stats();
    assert.deepEqual([stats.bodiesUninspected.busy, stats.failedOpen, stats.engineErrors, stats.bodiesInspected], [1, 1, 0, 1]);
    assert.deepEqual([closed.stats().bodiesUninspected.busy, closed.stats().failedClosed], [1, 1]);
    assert.deepEqual(events.map((e) => [e.kind, e.code]), [['engine', 'MOAT_ERR_BODY_BUSY']]);
    // The same bomb sent to a blocked path: the gate being full must not open the path rule (nor any other).
    const toAdmin = { ...bombRequest, path: '/admin' };
    assert.equal((await send(a.port, toAdmin)).status, 403, 'blocked path, fail open: still 403');
    assert.equal((await send(b.port, toAdmin)).status, 403, 'blocked path, failClosed: 403, not 503');
    const after = open.stats();
    assert.deepEqual([after.bodiesUninspected.busy, after.failedOpen, after.blocked], [2, 1, 1]);
    assert.deepEqual([closed.stats().bodiesUninspected.busy, closed.stats().failedClosed, closed.stats().blocked], [2, 1, 1]);
    // An uncompressed form and a gzip form do not pass the gate: still judged while it is full.
    const plain = { method: 'POST', path: '/form', headers: { 'content-type': FORM }, body: 'q=%3Cscript%3E' };
    assert.equal((await send(a.port, plain)).status, 403);
    const gzip = { ...plain, headers: { ...plain.headers, 'content-encoding': 'gzip' }, body: zlib.gzipSync('q=%3Cscript%3E') };
    assert.equal((await send(a.port, gzip)).status, 403);
  } finally {
    release();
    await Promise.all(fillers);
  }
  try {
    // Once the queue drains, the same bomb is judged again.
    assert.equal((await send(a.port, bombRequest)).status, 403);
    assert.equal((await send(b.port, bombRequest)).status, 403);
    assert.deepEqual(windowedInflateGate.stats().running, 0);
  } finally {
    await close(a.server);
    await close(b.server);
    open.close();
    closed.close();
  }
});
