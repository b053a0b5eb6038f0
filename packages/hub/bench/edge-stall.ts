// How long one request can hold the hub's event loop, per kind of hostile or large body. A real hub
// (SQLite, 127.0.0.1) runs in a child process with a 1 ms ticker; this process sends each body over a
// real socket and asks the child for the longest gap between ticks while that request was in flight, so
// the client's own work is not counted. On a busy machine the wall-clock gap also holds time the hub was
// not scheduled at all, so the CPU-bound column counts only the CPU the hub used during each gap; the last
// column is the hub's total CPU time for the request (all threads: zlib and SQLite work included).
// Run: npx tsx packages/hub/bench/edge-stall.ts   (numbers depend on the machine; compare, don't assert)
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Client, createSiteWithKey, startTestHub } from '../test/support/hub-fixture.js';

const RUNS = 5;

async function runHub(): Promise<void> {
  const hub = await startTestHub();
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let worst = 0;
  let worstBusy = 0;
  let cpuAtReset = process.cpuUsage();
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  setInterval(() => {
    const t = performance.now();
    const gap = t - last;
    // The process's CPU time over the gap: time the machine spent running something else (it is busy)
    // is not counted. It includes the hub's other threads, so min() of both bounds the main thread.
    const busy = Math.min(gap, cpuMs(lastCpu));
    worst = Math.max(worst, gap);
    worstBusy = Math.max(worstBusy, busy);
    last = t;
    lastCpu = process.cpuUsage();
  }, 1);
  process.on('message', (message: string) => {
    if (message === 'reset') {
      last = performance.now();
      lastCpu = process.cpuUsage();
      worst = 0;
      worstBusy = 0;
      cpuAtReset = process.cpuUsage();
      process.send!('ok');
    } else if (message === 'read') {
      const gap = performance.now() - last;
      process.send!({ stall: Math.max(worst, gap), busy: Math.max(worstBusy, Math.min(gap, cpuMs(lastCpu))), cpu: cpuMs(cpuAtReset) });
    } else {
      void hub.stop().then(() => process.exit(0));
    }
  });
  process.send!(hub.url);
}

function recordJson(i: number, now: number, pathBytes = 40): string {
  return JSON.stringify({
    ip: `198.51.${(i >> 8) & 255}.${i & 255}`, user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36',
    path: `/p/${'x'.repeat(pathBytes)}`, parameter: 'a=1&b=2', host: 'example.test', method: 'GET', request_id: `r-${i}`,
    timestamp: now - 5, treatment: i % 10 === 0 ? 'Blocked' : 'Passed', category: i % 10 === 0 ? 'bp' : 'passed', rule: i % 10 === 0 ? '/wp-admin' : '-',
  });
}

function batchOf(n: number, pathBytes?: number): string {
  const now = Math.floor(Date.now() / 1000);
  return `{"meta":{"version":"1","client":"bench","framework":"none"},"batch":[${Array.from({ length: n }, (_, i) => recordJson(i, now, pathBytes)).join(',')}]}`;
}

async function ask(hub: ChildProcess, message: string): Promise<unknown> {
  hub.send(message);
  const [answer] = await once(hub, 'message');
  return answer;
}

interface Measured { stall: number; busy: number; cpu: number; status: number }

async function measure(hub: ChildProcess, send: () => Promise<Response>): Promise<Measured> {
  await ask(hub, 'reset');
  const response = await send();
  await response.arrayBuffer();
  const { stall, busy, cpu } = (await ask(hub, 'read')) as { stall: number; busy: number; cpu: number };
  return { stall, busy, cpu, status: response.status };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const hub = fork(fileURLToPath(import.meta.url), ['hub'], { execArgv: ['--import', 'tsx'] });
  const [url] = (await once(hub, 'message')) as [string];
  try {
    const client = new Client(url);
    await client.login();
    const { apiKey } = await createSiteWithKey(client);
    const upsync = (body: string | Buffer, gzip = false) => () => fetch(`${url}/v2/upsync/${apiKey}`, {
      method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body),
      headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    });
    const nested = (bytes: number) => `${'['.repeat(bytes / 2)}${']'.repeat(bytes / 2)}`;
    const nested59 = nested(5_900_000);
    const nested8 = nested(8_000_000);
    const cases: [string, () => Promise<Response>][] = [
      ['no cookie: 5.9 MB nested JSON to POST /api/sites', () => fetch(`${url}/api/sites`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested59 })],
      ['session: 60 KB nested JSON to POST /api/sites', () => client.request('/api/sites', { method: 'POST', body: nested(60_000), headers: { 'content-type': 'application/json', 'x-csrf-token': client.csrf } })],
      ['bad key: 8 MB nested JSON to upsync', () => fetch(`${url}/v2/upsync/moat_bad`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested8 })],
      ['valid key: gzip of 8 MB nesting', upsync(gzipSync(`{"batch":${nested8}}`), true)],
      ['valid key: gzip of 8 MB wide array', upsync(gzipSync(`{"batch":[],"x":[${'0,'.repeat(4_000_000)}0]}`), true)],
      ['valid key: gzip of 600k-key object', upsync(gzipSync(`{"batch":[{${Array.from({ length: 600_000 }, (_, i) => `"k${i}":0`).join(',')}}]}`), true)],
      ['valid key: gzip bomb, 32 MB inflated', upsync(gzipSync(Buffer.alloc(32 * 1024 * 1024, 0x20)), true)],
      ['valid key: 250 records (a Wafris batch)', upsync(batchOf(250))],
      ['valid key: 2 500 records', upsync(batchOf(2_500))],
      ['valid key: 5 000 records (a Moat backlog batch)', upsync(batchOf(5_000))],
      ['valid key: 10 000 records (upsyncMaxRecords)', upsync(batchOf(10_000))],
      ['valid key: 10 000 records of ~750 B (~7.5 MB)', upsync(batchOf(10_000, 500))],
    ];
    console.log(`| body | status | longest stall, wall (ms, median of ${RUNS}) | longest stall, CPU-bound (ms) | hub CPU time (ms) |`);
    console.log('|---|---|---|---|---|');
    for (const [name, send] of cases) {
      const results: Measured[] = [];
      for (let i = 0; i < RUNS; i++) results.push(await measure(hub, send));
      const stall = median(results.map((r) => r.stall));
      const busy = median(results.map((r) => r.busy));
      const cpu = median(results.map((r) => r.cpu));
      console.log(`| ${name} | ${results[0]!.status} | ${stall.toFixed(1)} | ${busy.toFixed(1)} | ${cpu.toFixed(1)} |`);
    }
  } finally {
    hub.send('stop');
    await once(hub, 'exit');
  }
}

if (process.argv[2] === 'hub') await runHub();
else await main();
