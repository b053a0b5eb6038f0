// Measures what reporting costs per record: CPU time of the serving thread (a loop of hello-world
// decisions with fresh header strings per request, as a server sees them, 50 000 a second) and of the
// process's other threads (the report worker, GC helpers), against the same loop with reporting off, in
// interleaved rounds. The sink that answers the POSTs runs in a
// child process, so its work is not counted. Usage: npx tsx packages/moat/test/report-cost.ts [records]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Decision } from '../src/engine/decision.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import { clientInfo } from '../src/sync/client-info.js';
import { Upsync } from '../src/sync/upsync.js';

const RECORDS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** Distinct paths among the requests (KEYS=1: one client repeating one request, the server bench's load). */
const KEYS = Number(process.env.KEYS ?? 1);
const PASSED: Decision = { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: [] };
const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

/** A copy of `text` that is a different string object (as each parsed request head gives). */
const fresh = (text: string) => (` ${text}`).slice(1);

function requests(count: number): MoatHttpRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    ip: fresh('127.0.0.1'), ipSource: 'socket', method: fresh('GET'), host: fresh('127.0.0.1'), hostForms: undefined, path: fresh(`/p/${i % KEYS}`),
    pathForms: undefined, params: undefined, userAgent: fresh(UA), headers: { host: '127.0.0.1:3000', 'user-agent': UA }, url: fresh('/'),
  }) as unknown as MoatHttpRequest);
}

/**
 * CPU milliseconds of this process's serving thread (the main one) and of all its other threads (the
 * report worker, GC helpers, libuv), from /proc (Linux): CPU time, so a busy shared machine does not
 * inflate it as it does wall time.
 */
function threadCpuMs(): { serving: number; others: number } {
  const tick = 10; // USER_HZ is 100 on Linux
  let serving = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * tick;
    if (Number(tid) === process.pid) serving += ms;
    else others += ms;
  }
  return { serving, others };
}

async function startSink(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['-e', `
    const http = require('node:http');
    const s = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, {'content-type': 'application/json'}).end('{"ok":true}')); });
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { url: `http://127.0.0.1:${port}/v2/upsync`, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const sink = await startSink();
  const upsync = new Upsync({
    hubUrls: [sink.url], apiKey: 'k', client: clientInfo('node', 'bench'), format: (process.env.FORMAT as 'compact' | 'wafris' | undefined) ?? 'compact',
    batchSize: Number(process.env.BATCH ?? 250), flushIntervalMs: 10_000, maxQueue: Number(process.env.MAX_QUEUE ?? 10_000), maxQueueBytes: 16 * 1024 * 1024, ringBytes: 4 * 1024 * 1024,
    maxBatchBytes: 1024 * 1024, passedSampleRate: 1, redactParams: [],
    // REPORT_PASSED=all: every Passed record in full (the worker's cost before counting, report/passed-aggregator.ts).
    reportPassed: process.env.REPORT_PASSED === 'all' ? 'all' : 'aggregate', requestTimeoutMs: 5000, backoffBaseMs: 1000, backoffMaxMs: 60_000,
    now: Date.now, onError: (e) => console.error(e.message), onUnauthorized: () => {}, onHubSwitch: () => {},
  });
  await new Promise((resolve) => setTimeout(resolve, 3000)); // the worker starts (tsx)
  const pool = requests(1000);
  /** 500 decisions every 10 ms: 50 000 a second, about what one core serves of hello world. */
  const chunk = 500;
  /** One round: RECORDS decisions in chunks, paced as a busy server sees them. */
  const round = async (report: boolean) => {
    const cpu0 = threadCpuMs();
    let sink = 0;
    for (let done = 0; done < RECORDS; done += chunk) {
      for (let i = 0; i < chunk; i++) {
        const request = pool[i];
        if (report) upsync.record(PASSED, request);
        else sink += request.path.length;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (report) await upsync.flush();
    const cpu1 = threadCpuMs();
    return { servingMs: cpu1.serving - cpu0.serving, othersMs: cpu1.others - cpu0.others, sink };
  };
  const us = (ms: number) => ((ms * 1000) / RECORDS).toFixed(3);
  const rows: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = upsync.status();
    const off = await round(false);
    const on = await round(true);
    const after = upsync.status();
    console.log(`  ${after.batchesSent - before.batchesSent} batches, ${after.dropped - before.dropped} dropped`);
    rows.push(`round ${r + 1}: serving thread ${us(on.servingMs - off.servingMs)} µs/record, other threads (worker) ${us(on.othersMs - off.othersMs)} µs/record ` +
      `(reporting off: ${us(off.servingMs)} + ${us(off.othersMs)} µs per loop step)`);
    console.log(rows.at(-1));
  }
  const st = upsync.status();
  console.log(`sent ${st.sent} of ${st.recorded} recorded, ${st.batchesSent} batches, dropped ${st.dropped} (ring full ${st.droppedRingFull})`);
  await upsync.close();
  sink.stop();
}

void main();
