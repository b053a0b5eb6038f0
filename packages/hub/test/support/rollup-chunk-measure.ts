/**
 * How long the SQLite rollup holds the event loop on attacked data: a week of a small site's traffic
 * (60 requests an hour) plus a million made-up paths and user agents from 50,000 addresses, all stored
 * first, then folded by store.rollUp() calls as the maintenance timer makes them. Reported: per call, the
 * reports folded, the wall time of the call and the longest synchronous stretch inside it (the largest
 * gap between turns of a setImmediate ticker running beside it: what a request waiting for the loop
 * would have waited), in wall time and in the main thread's CPU time (Linux only; unlike wall time, not
 * inflated when other processes keep the thread waiting for a core). A file database in a temporary
 * folder, as the hub runs.
 *
 *   node --import tsx packages/hub/test/support/rollup-chunk-measure.ts [--hours 168] [--made-up 6000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ReportRecord } from '../../src/store/store.js';

const { values: args } = parseArgs({
  options: { hours: { type: 'string', default: '168' }, 'made-up': { type: 'string', default: '6000' } },
});
const HOURS = Number(args.hours);
const MADE_UP_PER_HOUR = Number(args['made-up']);
const END = Math.floor(Date.now() / 1000 / 3600) * 3600;

function report(ts: number, ip: string, path: string, userAgent: string, blocked: boolean): ReportRecord {
  return {
    ts, ip, method: 'GET', host: 'shop.test', path, parameter: '', userAgent, requestId: '', treatment: blocked ? 'Blocked' : 'Passed',
    category: blocked ? 'bp' : 'passed', rule: blocked ? '/admin' : '-', ruleId: null, monitored: null, ipSource: null, country: 'DE',
  };
}

/**
 * CPU time of the main thread so far, ms (Linux: /proc/self/task/<pid>/schedstat, nanoseconds on a CPU).
 * On a loaded machine a wall-clock gap also counts time the thread waited for a core; this does not.
 */
function mainThreadCpuMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
}

/** Largest gap between setImmediate turns while `work` runs: the longest the loop was held (wall and CPU). */
async function longestHold(work: () => Promise<number>): Promise<{ result: number; holdMs: number; cpuHoldMs: number; wallMs: number }> {
  let running = true;
  let last = performance.now();
  let lastCpu = mainThreadCpuMs();
  let holdMs = 0;
  let cpuHoldMs = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = mainThreadCpuMs();
    holdMs = Math.max(holdMs, now - last);
    cpuHoldMs = Math.max(cpuHoldMs, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const start = performance.now();
  const result = await work();
  const wallMs = performance.now() - start;
  running = false;
  // The stretch from the last tick to the end of the work counts too.
  holdMs = Math.max(holdMs, performance.now() - last);
  cpuHoldMs = Math.max(cpuHoldMs, mainThreadCpuMs() - lastCpu);
  return { result, holdMs, cpuHoldMs, wallMs };
}

const dir = mkdtempSync(join(tmpdir(), 'moat-rollup-measure-'));
try {
  const store = SqliteStore.open(join(dir, 'hub.db'));
  const site = await store.createSite('shop');
  const started = performance.now();
  let stored = 0;
  for (let h = HOURS - 1; h >= 0; h--) {
    const start = END - (h + 1) * 3600;
    const rows: ReportRecord[] = [];
    for (let j = 0; j < 60; j++) rows.push(report(start + 60 * j, `198.51.100.${j % 10}`, `/real/${j % 10}`, `real-agent-${j % 10}`, j % 12 === 0));
    for (let i = 0; i < MADE_UP_PER_HOUR; i++) {
      const n = h * MADE_UP_PER_HOUR + i;
      rows.push(report(start + (i % 3600), `10.${(n % 50_000) >> 16}.${((n % 50_000) >> 8) & 255}.${n % 50_000 & 255}`,
        `/made-up/${h}/${i}/${n.toString(36)}`, `Mozilla/5.0 (made-up ${h}-${i}) Gecko/${n}`, false));
    }
    await store.insertReports(site.id, rows);
    stored += rows.length;
  }
  console.log(`stored ${stored} reports over ${HOURS} h in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const calls: Array<{ folded: number; holdMs: number; cpuHoldMs: number; wallMs: number }> = [];
  const cpuAtStart = { main: mainThreadCpuMs(), all: process.cpuUsage() };
  for (;;) {
    const { result, ...times } = await longestHold(() => store.rollUp());
    calls.push({ folded: result, ...times });
    if (result === 0) break;
  }
  const allThreads = process.cpuUsage(cpuAtStart.all);
  const cpuSpent = { main: mainThreadCpuMs() - cpuAtStart.main, all: (allThreads.user + allThreads.system) / 1000 };
  // Day summaries left to build run on calls that fold nothing.
  for (let i = 0; i < 200; i++) {
    const { result, ...times } = await longestHold(() => store.rollUp());
    calls.push({ folded: result, ...times });
    const pending = store.db.prepare('SELECT count(*) FROM day_top_floor WHERE floor IS NULL AND day < ?').pluck().get(END - 86_400) as number;
    if (pending === 0) break;
  }
  const folding = calls.filter((c) => c.folded > 0);
  const quantiles = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    return `median ${pick(0.5)}, p90 ${pick(0.9)}, max ${pick(1)}`;
  };
  console.log(`rollUp calls folding reports: ${folding.length}, reports per call ${Math.max(...folding.map((c) => c.folded))}`);
  console.log(`longest hold per call, wall (ms): ${quantiles(folding.map((c) => c.holdMs))}`);
  console.log(`longest hold per call, main thread CPU (ms): ${quantiles(folding.map((c) => c.cpuHoldMs))}`);
  console.log(`wall time per call (ms): median ${folding.map((c) => c.wallMs).sort((a, b) => a - b)[Math.floor(folding.length / 2)]!.toFixed(1)}`);
  const idle = calls.filter((c) => c.folded === 0);
  console.log(`calls folding nothing (day summaries): ${idle.length}, longest hold ${Math.max(...idle.map((c) => c.holdMs)).toFixed(1)} ms`);
  const total = folding.reduce((s, c) => s + c.wallMs, 0);
  console.log(`all reports folded in ${(total / 1000).toFixed(1)} s of rollUp calls (${Math.round(stored / (total / 1000))} reports/s), `
    + `CPU ${(cpuSpent.main / 1000).toFixed(1)} s on the main thread, ${(cpuSpent.all / 1000).toFixed(1)} s in all threads`);
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
