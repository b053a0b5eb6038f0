/**
 * Compact Moat upsync vs Wafris JSON, the same records in both forms, measured in one run:
 * - bytes per record on the wire (gzip, as clients send them) and uncompressed;
 * - records/s through HTTP into a real SQLite store (bodies sent from a worker thread, as clients are
 *   other machines), with the hub thread's busy time per record (event-loop utilisation, so load from
 *   other processes on the machine does not count);
 * - the parse cost alone (inflate excluded): JSON.parse (+ expansion) + per-record checks, CPU µs/record.
 * Rounds alternate the two forms so drift on a shared machine hits both alike.
 *
 *   node --import tsx packages/hub/test/support/upsync-ingest-measure.ts [--rounds N] [--batches N]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { compactUpsyncLimits, expandCompactUpsync } from '../../src/ingest/compact-upsync.js';
import { upsyncBatchSorter } from '../../src/ingest/upsync-batch.js';
import { COMPACT_TYPE, toCompactUpsync } from './compact-upsync-batch.js';
import { startHubWithSite } from './hub-fixture.js';

const META = { version: '0.9.0', client: 'moat', framework: 'express' };
const PATHS = Array.from({ length: 20 }, (_, i) => `/shop/${['products', 'cart', 'account', 'search'][i % 4]}/${i}`);
const AGENTS = Array.from({ length: 10 }, (_, i) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${120 + i}.0.0.0 Safari/537.36`);
const IPS = Array.from({ length: 200 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG): the same batches every run. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * A batch as a Moat client reports it: ~20 paths, ~10 user agents, ~200 IPs picked at random (a few hot,
 * as in real traffic), random UUIDs as request ids, a few seconds of timestamps.
 */
export function realisticRecords(size: number, batch: number, t0: number): Record<string, unknown>[] {
  const random = randomSource(batch + 1);
  const pick = <T>(list: T[]) => list[Math.min(list.length - 1, Math.floor(list.length * random() * random()))]!;
  const hex = (digits: number) => Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join('');
  return Array.from({ length: size }, (_, i) => {
    const blocked = random() < 0.05;
    return {
      ip: pick(IPS), user_agent: pick(AGENTS), path: pick(PATHS),
      parameter: random() < 0.2 ? `q=item${Math.floor(random() * 30)}` : '', host: 'shop.example.test', method: random() < 0.1 ? 'POST' : 'GET',
      request_id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      timestamp: t0 + Math.floor(i / 100), treatment: blocked ? 'Blocked' : 'Passed', category: blocked ? 'bp' : 'passed',
      rule: blocked ? '/wp-admin' : '-', rule_id: blocked ? 'r-12' : null, monitored: [], ip_source: 'x-forwarded-for',
    };
  });
}

export interface UpsyncIngestFigures {
  form: 'wafris' | 'compact';
  gzipBytesPerRecord: number;
  jsonBytesPerRecord: number;
  httpRecordsPerSecond: number;
  /** Hub main-thread busy time per record over HTTP, µs. */
  hubBusyMicrosPerRecord: number;
  /** Parse (+ expand) + per-record checks, no HTTP or store, µs per record. */
  parseMicrosPerRecord: number;
}

/** Posts the bodies in turn, `total` times over `concurrency` connections, from a worker thread. */
function sendFromWorker(url: string, contentType: string, bodies: Uint8Array[], total: number, concurrency: number): Promise<void> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { url, contentType, bodies, total, concurrency } = workerData;
    let next = 0;
    const lane = async () => {
      while (next < total) {
        const body = bodies[next++ % bodies.length];
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, 'content-encoding': 'gzip' }, body });
        const text = await response.text();
        if (response.status !== 200) throw new Error('upsync answered ' + response.status + ': ' + text);
      }
    };
    Promise.all(Array.from({ length: concurrency }, lane)).then(() => parentPort.postMessage('done'), (e) => parentPort.postMessage(String(e)));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, contentType, bodies, total, concurrency } });
    worker.once('message', (message) => {
      void worker.terminate();
      if (message === 'done') resolve();
      else reject(new Error(String(message)));
    });
    worker.once('error', reject);
  });
}

export async function measureUpsyncIngest(options: { rounds?: number; batchesPerRound?: number; batchSize?: number; log?: (line: string) => void } = {}): Promise<UpsyncIngestFigures[]> {
  const rounds = options.rounds ?? 4;
  const batchesPerRound = options.batchesPerRound ?? 20;
  const batchSize = options.batchSize ?? 1000;
  const log = options.log ?? (() => undefined);
  const t0 = Math.floor(Date.now() / 1000) - 3600;
  const pool = Array.from({ length: 8 }, (_, b) => realisticRecords(batchSize, b, t0 + b * 10));
  const texts = {
    wafris: pool.map((records) => JSON.stringify({ meta: META, batch: records })),
    compact: pool.map((records) => JSON.stringify(toCompactUpsync(META, records))),
  };
  const gzipped = { wafris: texts.wafris.map((t) => new Uint8Array(gzipSync(t))), compact: texts.compact.map((t) => new Uint8Array(gzipSync(t))) };
  const perRecord = (list: { length: number }[]) => list.reduce((sum, x) => sum + x.length, 0) / (list.length * batchSize);
  const forms = ['wafris', 'compact'] as const;
  const figures = new Map(forms.map((form) => [form, {
    form, gzipBytesPerRecord: perRecord(gzipped[form]), jsonBytesPerRecord: perRecord(texts[form].map((t) => Buffer.from(t))),
    seconds: 0, busyMs: 0, records: 0, parseMs: 0, parsed: 0,
  }]));

  // Parse cost alone, interleaved: what the hub does between inflating and storing.
  const sort = upsyncBatchSorter(10_000);
  const limits = compactUpsyncLimits(10_000, 8 * 1024 * 1024);
  const times = { receivedAt: t0 + 3600, oldestKept: 0 };
  const parse = { wafris: (t: string) => sort(JSON.parse(t), times), compact: (t: string) => sort(expandCompactUpsync(JSON.parse(t), limits), times) };
  for (let round = 0; round < rounds * 5; round++) {
    for (const form of round % 2 === 0 ? forms : [...forms].reverse()) {
      const started = performance.now();
      for (const text of texts[form]) if (parse[form](text).accepted.length !== batchSize) throw new Error(`${form}: records refused`);
      const f = figures.get(form)!;
      f.parseMs += performance.now() - started;
      f.parsed += texts[form].length * batchSize;
    }
  }

  const { hub, apiKey } = await startHubWithSite('measure', { upsyncMaxRecords: 10_000, selfProtection: false });
  try {
    const url = `${hub.url}/v2/upsync/${apiKey}`;
    // Warm-up: the first batches pay for JIT and the SQLite page cache.
    for (const form of forms) await sendFromWorker(url, form === 'compact' ? COMPACT_TYPE : 'application/json', gzipped[form], 4, 2);
    for (let round = 0; round < rounds; round++) {
      for (const form of round % 2 === 0 ? forms : [...forms].reverse()) {
        const busyBefore = performance.eventLoopUtilization();
        const started = performance.now();
        await sendFromWorker(url, form === 'compact' ? COMPACT_TYPE : 'application/json', gzipped[form], batchesPerRound, 4);
        const f = figures.get(form)!;
        f.seconds += (performance.now() - started) / 1000;
        f.busyMs += performance.eventLoopUtilization(busyBefore).active;
        f.records += batchesPerRound * batchSize;
      }
    }
  } finally {
    await hub.stop();
  }
  const result = forms.map((form): UpsyncIngestFigures => {
    const f = figures.get(form)!;
    return {
      form, gzipBytesPerRecord: f.gzipBytesPerRecord, jsonBytesPerRecord: f.jsonBytesPerRecord,
      httpRecordsPerSecond: f.records / f.seconds, hubBusyMicrosPerRecord: (f.busyMs * 1000) / f.records,
      parseMicrosPerRecord: (f.parseMs * 1000) / f.parsed,
    };
  });
  for (const r of result) {
    log(`${r.form.padEnd(8)} ${r.gzipBytesPerRecord.toFixed(1).padStart(6)} B/record gzip, ${r.jsonBytesPerRecord.toFixed(0).padStart(4)} B/record JSON; `
      + `${Math.round(r.httpRecordsPerSecond).toLocaleString('en-US').padStart(7)} records/s over HTTP, hub thread ${r.hubBusyMicrosPerRecord.toFixed(2)} µs/record; `
      + `parse + checks ${r.parseMicrosPerRecord.toFixed(2)} µs/record`);
  }
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, batches: { type: 'string' } } });
  measureUpsyncIngest({
    rounds: values.rounds ? Number(values.rounds) : undefined, batchesPerRound: values.batches ? Number(values.batches) : undefined,
    log: (line) => console.log(line),
  }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
