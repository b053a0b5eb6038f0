/** Turns bench results into a readable markdown report, a headline table and SVG charts. */
import { barChart, lineChart } from './charts.js';
import type { DataBenchResult } from './data-bench.js';
import { dataReport } from './data-bench.js';
import type { Row } from './engine-bench.js';
import type { HubBenchResult } from './hub-bench.js';
import type { LookupBenchResult, MissCount } from './lookup-bench.js';
import { fmtNs } from './lib/measure.js';
import type { MemoryBenchResult } from './memory-bench.js';
import type { ScaleBenchResult } from './scale-bench.js';
import type { ServerBenchResult } from './server-bench.js';
import type { SwapBenchResult } from './swap-bench.js';
import type { WebBenchResult } from './web-bench.js';
import type { AttacksBenchRow } from './attacks-bench.js';
import type { AttacksZenResult } from './attacks-zen.js';
import type { BotsBenchRow } from './bots-bench.js';
import type { SyncBenchResult } from './sync-bench.js';
import type { BanLatencyResult } from './ban-latency-bench.js';
import { targetsTable } from './targets.js';
import { partResult as ok, signedPercent as pct } from './lib/part-results.js';

export const PARTS = ['engine', 'data', 'lookup', 'servers', 'web', 'attacks', 'attacksZen', 'bots', 'memory', 'sync', 'bans', 'swap', 'hub', 'scale'] as const;
export type PartName = (typeof PARTS)[number];

export interface PartResults {
  engine: { rows: Row[]; builds: Record<string, unknown>[] };
  data: DataBenchResult;
  lookup: LookupBenchResult;
  servers: ServerBenchResult;
  /** The Web-standard entry (Request → Response) next to the Node path (bench/web-bench.ts). */
  web: WebBenchResult;
  /** Attack detection per request, against a substring list (bench/attacks-bench.ts). */
  attacks: { rows: AttacksBenchRow[] };
  /** Attack blocks and false positives side by side with Zen on a vulnerable app (bench/attacks-zen.ts). */
  attacksZen: AttacksZenResult;
  /** Verified-bot stage per request, bot settings on vs off (bench/bots-bench.ts). */
  bots: { rows: BotsBenchRow[] };
  memory: MemoryBenchResult;
  sync: SyncBenchResult;
  /** Fleet-wide auto-ban: crossing on app A → 403 on app B (bench/ban-latency-bench.ts). */
  bans: BanLatencyResult;
  /** Data-file swap under load (bench/swap-bench.ts). */
  swap: SwapBenchResult;
  hub: HubBenchResult;
  scale: ScaleBenchResult;
}

export type PartOutcome<K extends PartName> =
  | { status: 'ok'; seconds: number; result: PartResults[K] }
  | { status: 'failed'; seconds: number; error: string }
  | { status: 'not run'; reason: string };

export interface BenchResults {
  date: string;
  quick: boolean;
  machine: Record<string, string | number>;
  rerun: string;
  totalSeconds: number;
  parts: { [K in PartName]: PartOutcome<K> };
}

export interface Chart {
  name: string;
  title: string;
  svg: string;
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const signedMib = (kib: number) => `${kib >= 0 ? '+' : '−'}${mib(Math.abs(kib))}`;
const x = (r: number) => (r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(1)}×`);
const n = (v: number) => v.toLocaleString('en-US');
const us = (v: number) => `${v.toFixed(1)} µs`;
const signedUs = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)} µs`;
const missText = (m?: MissCount) => m === undefined ? '' :
  `${n(m.missed)} of ${n(m.expectedHits)} (${((m.missed / Math.max(1, m.expectedHits)) * 100).toFixed(1)} %)${
    Object.keys(m.missedByKind).length ? `: ${Object.entries(m.missedByKind).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}${m.falseHits ? `; ${m.falseHits} false hits` : ''}`;

/** The table for the README: each claim as a ratio against the baseline measured in the same run. */
export function headlineTable(r: BenchResults): string {
  const lines = ['| claim | Moat | baseline (same run) | ratio |', '|---|---:|---:|---:|'];
  const lookup = ok(r, 'lookup');
  if (lookup) {
    const size = n(lookup.ranges.total);
    const wafris = lookup.rows.find((row) => row.approach.startsWith('wafris-v2'))!;
    const mem = lookup.rows.find((row) => row.approach.startsWith('moat memory') && row.ranges === lookup.ranges.total)!;
    const light = lookup.rows.find((row) => row.approach.startsWith('moat light'))!;
    const redis = lookup.rows.find((row) => row.approach.startsWith('wafris-v1'));
    const bl = lookup.rows.find((row) => row.approach.startsWith('node net.BlockList'));
    const blMoat = lookup.rows.find((row) => row.approach.startsWith('moat memory') && row.ranges === lookup.ranges.blockList);
    lines.push(`| IP-range lookup, ${size} ranges, in memory | ${fmtNs(mem.m.ns)} | Wafris v2 SQLite ${fmtNs(wafris.m.ns)} | ${x(wafris.m.ns / mem.m.ns)} faster |`);
    lines.push(`| IP-range lookup, ${size} ranges, light (SQLite) | ${fmtNs(light.m.ns)} | Wafris v2 SQLite ${fmtNs(wafris.m.ns)} | ${x(wafris.m.ns / light.m.ns)} faster |`);
    if (redis) lines.push(`| IP-range lookup, ${size} ranges, vs Wafris v1 | ${fmtNs(mem.m.ns)} | Redis + Lua (loopback) ${fmtNs(redis.m.ns)} | ${x(redis.m.ns / mem.m.ns)} faster |`);
    if (bl && blMoat) lines.push(`| IP-range lookup, ${n(bl.ranges)} ranges | ${fmtNs(blMoat.m.ns)} | node net.BlockList ${fmtNs(bl.m.ns)} | ${x(bl.m.ns / blMoat.m.ns)} faster |`);
    // The share depends on the query mix (a quarter each of starts, ends, singles and middles); the kinds do not.
    const kinds = Object.entries(wafris.misses?.missedByKind ?? {}).map(([k, v]) => `${n(v)} ${k}`).join(', ');
    lines.push(`| true hits missed, of ${n(mem.misses?.expectedHits ?? 0)} (range starts, ends, singles, middles) | ${mem.misses?.missed ?? 0} | Wafris v2 and v1: ${n(wafris.misses?.missed ?? 0)} (${kinds}) | every start and single address missed |`);
  }
  const engine = ok(r, 'engine');
  if (engine) {
    const sizes = [...new Set(engine.rows.filter((row) => row.case.startsWith('substring')).map((row) => row.size))];
    const big = Math.max(...sizes);
    const loop = engine.rows.find((row) => row.case.startsWith('substring') && row.size === big && row.approach.startsWith('wafris'));
    const ac = engine.rows.find((row) => row.case.startsWith('substring') && row.size === big && row.approach.startsWith('moat'));
    if (loop && ac) lines.push(`| path rules, ${n(big)} substrings, per request | ${fmtNs(ac.m.ns)} | loop over rules ${fmtNs(loop.m.ns)} | ${x(loop.m.ns / ac.m.ns)} faster |`);
    const whole = engine.rows.find((row) => row.case.startsWith('whole'));
    const parse = engine.rows.filter((row) => row.approach.startsWith('parse')).at(-1);
    if (whole && parse) lines.push(`| whole request evaluation, ${n(whole.size)} ranges + big lists | ${fmtNs(whole.m.ns)} | parsing the IP alone ${fmtNs(parse.m.ns)} | ${x(whole.m.ns / parse.m.ns)} the parse |`);
  }
  const servers = ok(r, 'servers');
  if (servers) for (const s of servers.rows) {
    lines.push(`| ${s.server} hello world, req/s | ${n(Math.round(s.moat))} | without Moat ${n(Math.round(s.bare))} | ${pct(s.change)} |`);
    lines.push(`| ${s.server} hello world, req/s, reporting every decision | ${n(Math.round(s.reporting))} | without Moat ${n(Math.round(s.bare))} | ${pct(s.reportingChange)} |`);
    // CPU per request is the steadier figure (see the servers section); older results lack it.
    const v = s.variants ?? {};
    const bare = v.bare;
    // The bare server again as a variant: what identical servers differ by in this run (results from 2026-12-04 on).
    const control = v.control;
    if (bare && control?.vsBare) {
      lines.push(`| ${s.server} hello world, req/s, no firewall again (the run's noise floor) | ${n(Math.round(control.reqPerSecond))} | without Moat ${n(Math.round(bare.reqPerSecond))} | ${pct(control.vsBare.change.median)} (quartiles ${pct(control.vsBare.change.spread[0])} … ${pct(control.vsBare.change.spread[1])}) |`);
      lines.push(`| ${s.server} hello world, server CPU per request, no firewall again (the run's noise floor) | ${us(control.cpuUs)} | without Moat ${us(bare.cpuUs)} | ${signedUs(control.vsBare.cpuAddedUs.median)} (quartiles ${signedUs(control.vsBare.cpuAddedUs.spread[0])} … ${signedUs(control.vsBare.cpuAddedUs.spread[1])}) |`);
    }
    // Attack detection on (every category blocking), reporting on: results from 2026-12-03 on.
    const attacks = v.attacks;
    if (bare && attacks?.vsBare) {
      lines.push(`| ${s.server} hello world, req/s, reporting every decision, attack detection on | ${n(Math.round(attacks.reqPerSecond))} | without Moat ${n(Math.round(bare.reqPerSecond))} | ${pct(attacks.vsBare.change.median)} |`);
    }
    for (const [key, what] of [['moat', ''], ['reporting', ', reporting every decision'], ['attacks', ', reporting every decision, attack detection on']] as const) {
      const f = v[key];
      if (bare && f?.vsBare) lines.push(`| ${s.server} hello world, server CPU per request${what} | ${us(f.cpuUs)} | without Moat ${us(bare.cpuUs)} | ${signedUs(f.vsBare.cpuAddedUs.median)} (${pct(f.vsBare.cpuChange.median)}) |`);
    }
    // The serving thread alone, reporting on: what the request path pays for recording (results from 2026-12-03 on).
    const main = v.reporting?.vsBare?.mainCpuAddedUs;
    if (bare?.mainCpuUs != null && v.reporting?.mainCpuUs != null && main) {
      lines.push(`| ${s.server} hello world, serving thread CPU per request, reporting every decision | ${us(v.reporting.mainCpuUs)} | without Moat ${us(bare.mainCpuUs)} | ${signedUs(main.median)} |`);
    }
    // Express only: Moat judging before Express, and what any middleware layer costs there (server-bench.ts).
    const listener = v.listener;
    const layer = v.layer;
    if (bare && listener?.vsBare) {
      lines.push(`| ${s.server} hello world, req/s, Moat in the node:http listener before Express | ${n(Math.round(listener.reqPerSecond))} | without Moat ${n(Math.round(bare.reqPerSecond))} | ${pct(listener.vsBare.change.median)} |`);
      lines.push(`| ${s.server} hello world, server CPU per request, Moat in the node:http listener before Express | ${us(listener.cpuUs)} | without Moat ${us(bare.cpuUs)} | ${signedUs(listener.vsBare.cpuAddedUs.median)} (${pct(listener.vsBare.cpuChange.median)}) |`);
    }
    if (bare && layer?.vsBare) lines.push(`| ${s.server} hello world, server CPU per request, a pass-through app.use (no firewall) | ${us(layer.cpuUs)} | without it ${us(bare.cpuUs)} | ${signedUs(layer.vsBare.cpuAddedUs.median)} (${pct(layer.vsBare.cpuChange.median)}) |`);
    // The same process switching Moat on and off (results from 2026-12-04 on): the run's finest figure.
    const alternating = s.alternating ?? {};
    for (const [key, what] of [['control', ', no firewall again (its noise floor)'], ['moat', ''], ['reporting', ', reporting every decision'], ['attacks', ', reporting every decision, attack detection on']] as const) {
      const f = alternating[key];
      if (f) lines.push(`| ${s.server} hello world, CPU added per request, same process switching Moat on and off${what} | ${signedUs(f.cpuAddedUs.median)} (quartiles ${signedUs(f.cpuAddedUs.spread[0])} … ${signedUs(f.cpuAddedUs.spread[1])}; mean ${signedUs(f.cpuAddedUs.mean)} ± ${f.cpuAddedUs.standardError.toFixed(1)}) | off ${us(f.offCpuUs)} | req/s ${pct(f.change.median)} |`);
    }
    const zen = v.zen;
    const reporting = v.reporting;
    if (bare && zen?.vsBare && reporting?.vsBare) {
      lines.push(`| ${s.server}: Moat reporting every decision vs Zen (blocking, no token), req/s change | ${pct(reporting.vsBare.change.median)} | Zen ${pct(zen.vsBare.change.median)} | ${pct(reporting.vsBare.change.median - zen.vsBare.change.median)} points |`);
      lines.push(`| ${s.server}: the same, server CPU added per request | ${signedUs(reporting.vsBare.cpuAddedUs.median)} | Zen ${signedUs(zen.vsBare.cpuAddedUs.median)} | ${signedUs(reporting.vsBare.cpuAddedUs.median - zen.vsBare.cpuAddedUs.median)} |`);
    }
  }
  const memory = ok(r, 'memory');
  if (memory) {
    const most = Math.max(...memory.rows.map((row) => row.workers));
    const mem = memory.rows.find((row) => row.workers === most && row.mode === 'memory');
    const light = memory.rows.find((row) => row.workers === most && row.mode === 'light');
    const none = memory.rows.find((row) => row.workers === most && row.mode === 'none');
    if (mem && light && none) {
      lines.push(`| private memory per worker for ${n(memory.ranges)} ranges, ${most} workers, in memory | ${signedMib(mem.privateOverBaseline ?? 0)} | worker without data ${mib(none.perWorker.private)} | ${x(mem.perWorker.private / none.perWorker.private)} |`);
      lines.push(`| the same, light mode (file pages shared) | ${signedMib(light.privateOverBaseline ?? 0)} | worker without data ${mib(none.perWorker.private)} | ${x(light.perWorker.private / none.perWorker.private)} |`);
    }
  }
  const sync = ok(r, 'sync');
  if (sync) for (const s of sync.rows) {
    lines.push(`| rule change on the hub → enforced, client polling every ${s.intervalMs} ms | p50 ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms | poll interval ${s.intervalMs} ms | p50 = ${s.p50OverInterval.toFixed(2)} × interval |`);
  }
  const bans = ok(r, 'bans');
  if (bans) for (const b of bans.rows) {
    lines.push(`| threshold crossed on app A → 403 on app B, ${b.setting} | p50 ${b.p50.toFixed(0)} ms, p95 ${b.p95.toFixed(0)} ms | A's Blocked records sent within ${n(b.flushIntervalMs)} ms | target p95 ≤ ${n(bans.targetMs)} ms: ${b.p95 <= bans.targetMs ? 'met' : 'not met'} |`);
  }
  const swap = ok(r, 'swap');
  if (swap) {
    lines.push(`| event-loop delay while a ${n(swap.setup.ranges)}-range data file is swapped in under load, p99 | ${swap.swap.p99.toFixed(1)} ms | same load, no swap ${swap.baseline.p99.toFixed(1)} ms | target < ${swap.targetP99Ms} ms: ${swap.meetsTarget ? 'met' : 'not met'} |`);
  }
  const hub = ok(r, 'hub');
  if (hub) {
    lines.push(`| hub upsync ingestion (HTTP, batches of ${hub.ingest.batchSize}) | ${n(Math.round(hub.ingest.httpRecordsPerSecond))} records/s | direct store insert ${n(Math.round(hub.ingest.directRecordsPerSecond))} records/s | ${hub.ingest.ratio.toFixed(2)} |`);
    lines.push(`| dashboard 24 h overview, ${n(hub.queries.storedRecords)} stored reports | ${hub.queries.overviewMs.toFixed(1)} ms | raw-table scan ${hub.queries.rawScanTotalsMs.toFixed(1)} ms | ${x(hub.queries.rawScanTotalsMs / hub.queries.overviewMs)} faster |`);
  }
  const scale = ok(r, 'scale');
  if (scale && scale.rows.length > 1) {
    const a = scale.rows[0];
    // 1 M (arrays still near the caches) and the largest size (DRAM latency on the last steps), when measured.
    for (const b of scale.rows.slice(1).filter((row, i, all) => row.ranges === 1_000_000 || i === all.length - 1)) {
      lines.push(`| evaluation cost, ${n(a.ranges)} → ${n(b.ranges)} ranges | ${fmtNs(a.evaluate.ns)} → ${fmtNs(b.evaluate.ns)} | log2 n grows ${x(b.log2Growth)} | cost grows ${x(b.evaluateGrowth)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function engineSection(e: PartResults['engine']): string[] {
  const lines = [
    '## Engine', '',
    '| case | size | approach | per request | spread | vs Wafris | missed hits |',
    '|---|---:|---|---:|---|---:|---:|',
  ];
  for (const row of e.rows) {
    lines.push(`| ${row.case} | ${n(row.size)} | ${row.approach} | ${fmtNs(row.m.ns)} | ${fmtNs(row.m.min)}–${fmtNs(row.m.max)} | ${
      row.speedup === undefined ? '' : x(row.speedup)} | ${row.missed ?? ''} |`);
  }
  lines.push('', '| ranges | Moat build | Moat file | Wafris-style build | Wafris-style file |', '|---:|---:|---:|---:|---:|');
  for (const b of e.builds) {
    const m = (v: unknown) => `${((v as number) / 2 ** 20).toFixed(1)} MiB`;
    lines.push(`| ${n(b.ranges as number)} | ${(b.moatBuildSeconds as number).toFixed(1)} s | ${m(b.moatBytes)} | ${(b.wafrisBuildSeconds as number).toFixed(1)} s | ${m(b.wafrisBytes)} |`);
  }
  return [...lines, ''];
}

function lookupSection(l: LookupBenchResult): string[] {
  const lines = [
    '## Lookup store: one IP-range question, every design', '',
    `${n(l.ranges.total)} non-overlapping ranges (${n(l.ranges.ipv4)} IPv4, ${n(l.ranges.ipv6)} IPv6, ${n(l.ranges.singles)} of them single addresses); ` +
      `${n(l.queries.total)} queries of known answer (${Object.entries(l.queries.byKind).map(([k, v]) => `${v} ${k}`).join(', ')}). ` +
      `Moat file ${(l.files.moatBytes / 2 ** 20).toFixed(0)} MiB (built in ${l.files.moatBuildS.toFixed(1)} s); Wafris v2 layout ${(l.files.wafrisBytes / 2 ** 20).toFixed(0)} MiB (${l.files.wafrisBuildS.toFixed(1)} s)` +
      `${l.files.redisLoadS !== undefined ? `; Redis sorted set loaded in ${l.files.redisLoadS.toFixed(1)} s, ${((l.files.redisMemoryBytes ?? 0) / 2 ** 20).toFixed(0)} MiB` : ''}. ` +
      `net.BlockList is measured at ${n(l.ranges.blockList)} ranges only (it checks every rule on each lookup), next to Moat at that size.`,
    '',
    '| approach | ranges | per lookup | spread | vs Wafris v2 | true hits missed |',
    '|---|---:|---:|---|---:|---|',
  ];
  for (const row of l.rows) {
    const ratio = row.speedupVsWafrisV2 === undefined ? '' : x(row.speedupVsWafrisV2);
    lines.push(`| ${row.approach}${row.note ? ` — ${row.note}` : ''} | ${n(row.ranges)} | ${fmtNs(row.m.ns)} | ${fmtNs(row.m.min)}–${fmtNs(row.m.max)} | ${ratio} | ${missText(row.misses)} |`);
  }
  if (l.redisSkipped) lines.push('', `**Redis row skipped:** ${l.redisSkipped}`);
  return [...lines, ''];
}

function memorySection(m: MemoryBenchResult): string[] {
  const lines = [
    '## Memory per worker', '',
    `Each worker (a forked process, as node:cluster makes them) opens the same ${n(m.ranges)}-range data file ` +
      `(${(m.fileBytes / 2 ** 20).toFixed(0)} MiB) and does ${n(m.lookupsPerWorker)} lookups before /proc/<pid>/smaps_rollup is read. ` +
      'Baseline: a worker that loads the same code and SQLite driver but no data. Medians over the workers of a group (min–max private). ' +
      '"Private over baseline" compares each worker with itself: private after loading minus before (each the median of ' +
      `${m.samplesPerPhase ?? 5} samples after forced GCs), the group's median, minus the baseline group's (bench/memory-bench.ts). ` +
      'The kernel counts a file page mapped by one process only as private, so light mode\'s mmapped file pages become ' +
      '"shared" from two workers up; Pss splits each shared page evenly between the processes that map it.',
    '',
    '| workers | mode | private | (min–max) | private over baseline | shared | Rss | Pss | Pss of the group |',
    '|---:|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of m.rows) {
    const p = row.perWorker;
    lines.push(`| ${row.workers} | ${row.mode === 'none' ? 'no data (baseline)' : row.mode} | ${mib(p.private)} | ${mib(row.privateSpread[0])}–${mib(row.privateSpread[1])} | ${
      row.privateOverBaseline === undefined ? '' : signedMib(row.privateOverBaseline)} | ${mib(p.shared)} | ${mib(p.rss)} | ${mib(p.pss)} | ${mib(row.totalPss)} |`);
  }
  return [...lines, ''];
}

function syncSection(s: SyncBenchResult): string[] {
  return [
    '## Sync: rule change on the hub → enforced in a client', '',
    'A real hub (in-process, 127.0.0.1, signed downloads) and a ManagedFirewall polling it. Each change creates a block rule ' +
      'for a new IP through the hub\'s rule service and waits until the client\'s engine answers Blocked for it. Changes land at ' +
      'random points of the poll cycle; the poll interval is the reference (0.5 × interval is the average wait of any poller).',
    '',
    '| poll interval | changes | p50 | p95 | min–max | hub part (store, compile, sign), median | p50 / interval |',
    '|---:|---:|---:|---:|---|---:|---:|',
    ...s.rows.map((r) => `| ${r.intervalMs} ms | ${r.changes} | ${r.p50.toFixed(0)} ms | ${r.p95.toFixed(0)} ms | ${r.min.toFixed(0)}–${r.max.toFixed(0)} ms | ${r.hubMedian.toFixed(1)} ms | ${r.p50OverInterval.toFixed(2)} |`),
    '',
    ...(s.push?.length ? [
      'Push (long-poll, the default): clients held on the hub, poll interval 1 h, so only the push is in time. One client is a ' +
        `ManagedFirewall; larger fleets are long-poll sockets in a child process.${s.heapPerWaiterBytes ? ` Hub heap per held client: ${(s.heapPerWaiterBytes / 1024).toFixed(1)} KiB.` : ''}`,
      '',
      '| clients | changes | p50 | p95 | max | all clients enforced (median per change) |',
      '|---:|---:|---:|---:|---:|---:|',
      ...s.push.map((r) => `| ${r.clients} | ${r.changes} | ${r.p50.toFixed(0)} ms | ${r.p95.toFixed(0)} ms | ${r.max.toFixed(0)} ms | ${r.allP50.toFixed(0)} ms |`),
      '',
    ] : []),
  ];
}

function bansSection(b: BanLatencyResult): string[] {
  return [
    '## Fleet-wide auto-ban: threshold crossed on one app → 403 on another', '',
    `A real hub (in-process) with one threshold rule (≥ ${b.threshold} requests blocked by any rule in 5 min → ban 1 h) and two ` +
      'node:http apps in managed mode, each its own process, with default reporting and sync (long-poll push). Each scanner IP sends ' +
      `${b.threshold} blocked requests to app A; the clock runs from sending the one that crosses to the first 403 on app B (probed every ` +
      `${b.probeEveryMs} ms). Scanners start at random gaps, so they meet A's report cycle at random points. Split at the moment the hub ` +
      'stored the ban: before it the report waiting in A and the upsync; after it rebuild, push, download and install in B. ' +
      'In the rows after the first, app A is another app process that differs only in its report flush interval.',
    '',
    '| app A reports | scanners | p50 | p95 | min–max | crossing → ban stored, median | ban → 403 on B, median |',
    '|---|---:|---:|---:|---|---:|---:|',
    ...b.rows.map((r) => `| ${r.setting} | ${r.scanners} | ${r.p50.toFixed(0)} ms | ${r.p95.toFixed(0)} ms | ${r.min.toFixed(0)}–${r.max.toFixed(0)} ms | ${r.reportP50.toFixed(0)} ms | ${r.pushP50.toFixed(0)} ms |`),
    '',
  ];
}

function hubSection(h: HubBenchResult): string[] {
  const i = h.ingest;
  const q = h.queries;
  return [
    '## Hub', '',
    '| measure | hub | baseline (same run) | ratio |', '|---|---:|---:|---:|',
    `| upsync ingestion over HTTP (${i.batches} batches of ${i.batchSize}, ${i.concurrency} connections) | ${n(Math.round(i.httpRecordsPerSecond))} records/s | direct store insert ${n(Math.round(i.directRecordsPerSecond))} records/s | ${i.ratio.toFixed(2)} |`,
    `| sustained ingestion with rollups every 2 s | ${n(Math.round(i.sustainedRecordsPerSecond))} records/s | | |`,
    `| rollup | ${n(Math.round(i.rollupRecordsPerSecond))} records/s | | |`,
    `| 24 h overview (JSON API), ${n(q.storedRecords)} stored reports (${q.databaseMiB.toFixed(0)} MiB) | ${q.overviewMs.toFixed(1)} ms | raw-table scan ${q.rawScanTotalsMs.toFixed(1)} ms | ${x(q.rawScanTotalsMs / q.overviewMs)} faster |`,
    `| top lists | ${q.topListsMs.toFixed(1)} ms | | |`,
    `| overview page (HTML) | ${q.overviewPageMs.toFixed(1)} ms | | |`,
    `| request log | ${q.requestLogMs.toFixed(1)} ms | | |`,
    `| bulk load of the stored reports | ${n(Math.round(q.bulkLoadRecordsPerSecond))} records/s | | |`,
    ...previewRows(h),
    ...('unavailable' in h.postgres ? [`| PostgreSQL | ${h.postgres.unavailable} | | |`] : [
      `| PostgreSQL: upsync over HTTP | ${n(Math.round(h.postgres.ingest.httpRecordsPerSecond))} records/s | direct store insert ${n(Math.round(h.postgres.ingest.directRecordsPerSecond))} records/s | ${h.postgres.ingest.ratio.toFixed(2)} |`,
      `| PostgreSQL: 24 h overview, ${n(h.postgres.queries.storedRecords)} reports (${h.postgres.queries.databaseMiB.toFixed(0)} MiB) | ${h.postgres.queries.overviewMs.toFixed(1)} ms | SQLite same size ${h.postgres.sqliteQueries.overviewMs.toFixed(1)} ms (${h.postgres.sqliteQueries.databaseMiB.toFixed(0)} MiB) | ${(h.postgres.queries.overviewMs / h.postgres.sqliteQueries.overviewMs).toFixed(2)} |`,
      `| PostgreSQL: request log (Blocked) | ${h.postgres.queries.requestLogMs.toFixed(1)} ms | SQLite same size ${h.postgres.sqliteQueries.requestLogMs.toFixed(1)} ms | ${(h.postgres.queries.requestLogMs / h.postgres.sqliteQueries.requestLogMs).toFixed(2)} |`,
    ]),
    '',
  ];
}

/**
 * The backtests over the last 24 h of stored reports: what the user waits (from the POST to the result, on
 * the warm preview workers the rules page started) against the issue's target (2 s per million reports:
 * ≤ 2 s at 1 M, ≤ 20 s at 10 M), the workers' scan time and rate, the progress the page showed, and the
 * workers' start-up when the page opened (once per hub process).
 */
function previewRows(h: HubBenchResult): string[] {
  return (h.preview ?? []).map((p) => {
    const stored = p.storedReports ?? h.queries.storedRecords;
    const targetSeconds = (2 * stored) / 1_000_000;
    const startup = p.workersStartMs === undefined ? '' : `; workers started in ${(p.workersStartMs / 1000).toFixed(2)} s when the rules page opened`;
    return `| ${p.preview ?? 'rule'} preview: ${p.rule}, ${n(stored)} stored reports | ${(p.jobMs / 1000).toFixed(2)} s from the POST to the result `
      + `(${(p.scanMs / 1000).toFixed(2)} s scan, ${n(Math.round(p.reportsPerSecond))} reports/s, ${p.parts} worker${p.parts > 1 ? 's' : ''}) `
      + `| target ≤ ${targetSeconds.toFixed(targetSeconds >= 10 ? 0 : targetSeconds >= 1 ? 1 : 2)} s; ${p.progressSteps ?? 0} progress steps shown${startup} `
      + `| ${(p.jobMs / 1000 / targetSeconds).toFixed(2)} of target |`;
  });
}

function scaleSection(s: ScaleBenchResult): string[] {
  return [
    '## Scale curve', '',
    'IPv4 ranges only at every size (so the sizes compare). Lookup = parse + binary search over typed arrays; evaluate = a whole ' +
      '`engine.evaluate` against a rule blocking the list. A binary search costs log2 n steps: ns / log2 n stays nearly flat, ' +
      'and what grows beyond it is cache misses once the arrays outgrow the CPU caches.',
    '',
    '| ranges | log2 n | parse (baseline) | memory lookup | (lookup − parse) / log2 n | light lookup | evaluate | evaluate / log2 n | evaluate growth vs first | log2 n growth | wrong answers |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...s.rows.map((r) => `| ${n(r.ranges)} | ${r.log2n.toFixed(1)} | ${fmtNs(r.parse.ns)} | ${fmtNs(r.memory.ns)} (${fmtNs(r.memory.min)}–${fmtNs(r.memory.max)}) | ${r.memorySearchNsPerLog2.toFixed(1)} ns | ${fmtNs(r.light.ns)} | ${fmtNs(r.evaluate.ns)} (${fmtNs(r.evaluate.min)}–${fmtNs(r.evaluate.max)}) | ${r.evaluateNsPerLog2.toFixed(1)} ns | ${x(r.evaluateGrowth)} | ${x(r.log2Growth)} | ${r.missed} |`),
    '',
  ];
}

export function reportCharts(r: BenchResults): Chart[] {
  const charts: Chart[] = [];
  const lookup = ok(r, 'lookup');
  if (lookup) {
    charts.push({ name: 'lookup', title: 'IP-range lookup, ns per lookup', svg: barChart({
      title: `IP-range lookup (${n(lookup.ranges.total)} ranges; BlockList at ${n(lookup.ranges.blockList)})`, unit: 'ns per lookup, median, min–max', log: true,
      bars: lookup.rows.map((row) => ({ label: `${row.approach.replace(/ \(.*$/, '')}${row.ranges !== lookup.ranges.total ? ` @${n(row.ranges)}` : ''}`,
        value: row.m.ns, lo: row.m.min, hi: row.m.max, accent: row.approach.startsWith('moat'), text: fmtNs(row.m.ns) })),
    }) });
  }
  const engine = ok(r, 'engine');
  if (engine) {
    const rows = engine.rows.filter((row) => row.speedup !== undefined && row.speedup !== 1);
    charts.push({ name: 'engine', title: 'Engine speed-up over the Wafris v2 design', svg: barChart({
      title: 'Engine: speed-up over the Wafris v2 design', unit: '× faster (higher is better)', log: true,
      bars: rows.map((row) => ({ label: `${row.case}, ${n(row.size)}: ${row.approach.replace(/ \(.*$/, '')}`, value: row.speedup!, accent: true, text: x(row.speedup!) })),
    }) });
  }
  const servers = ok(r, 'servers');
  if (servers) {
    const zenBar = (s: ServerBenchResult['rows'][number], what: 'req' | 'cpu') => {
      const z = s.variants?.zen;
      if (!z?.vsBare) return [];
      return what === 'req'
        ? [{ label: `${s.server} with Zen`, value: z.reqPerSecond, lo: Math.min(...z.reqRounds), hi: Math.max(...z.reqRounds), text: `${n(Math.round(z.reqPerSecond))} (${pct(z.vsBare.change.median)})` }]
        : [{ label: `${s.server} with Zen`, value: z.cpuUs, lo: Math.min(...z.cpuRounds), hi: Math.max(...z.cpuRounds), text: `${us(z.cpuUs)} (${signedUs(z.vsBare.cpuAddedUs.median)})` }];
    };
    charts.push({ name: 'servers', title: 'Requests/s with and without Moat', svg: barChart({
      title: 'Hello-world servers: requests/s', unit: 'requests/s, median, min–max',
      bars: servers.rows.flatMap((s) => [
        { label: `${s.server} without Moat`, value: s.bare, lo: Math.min(...s.bareRounds), hi: Math.max(...s.bareRounds) },
        { label: `${s.server} with Moat`, value: s.moat, lo: Math.min(...s.moatRounds), hi: Math.max(...s.moatRounds), accent: true, text: `${n(Math.round(s.moat))} (${pct(s.change)})` },
        { label: `${s.server} with Moat, reporting on`, value: s.reporting, lo: Math.min(...s.reportingRounds), hi: Math.max(...s.reportingRounds), accent: true, text: `${n(Math.round(s.reporting))} (${pct(s.reportingChange)})` },
        ...zenBar(s, 'req'),
      ]),
    }) });
    const withCpu = servers.rows.filter((s) => s.variants?.bare !== undefined);
    if (withCpu.length > 0) {
      charts.push({ name: 'servers-cpu', title: 'Server CPU per request', svg: barChart({
        title: 'Hello-world servers: server CPU time per request', unit: 'µs per request (user + system), median, min–max',
        format: (v) => us(v),
        bars: withCpu.flatMap((s) => {
          const v = s.variants;
          const bar = (key: 'bare' | 'moat' | 'reporting', label: string) => {
            const f = v[key];
            if (f === undefined) return [];
            return [{ label: `${s.server} ${label}`, value: f.cpuUs, lo: Math.min(...f.cpuRounds), hi: Math.max(...f.cpuRounds), accent: key !== 'bare',
              text: f.vsBare ? `${us(f.cpuUs)} (${signedUs(f.vsBare.cpuAddedUs.median)})` : us(f.cpuUs) }];
          };
          return [...bar('bare', 'without Moat'), ...bar('moat', 'with Moat'), ...bar('reporting', 'with Moat, reporting on'), ...zenBar(s, 'cpu')];
        }),
      }) });
    }
  }
  const memory = ok(r, 'memory');
  if (memory) {
    charts.push({ name: 'memory', title: 'Private memory per worker', svg: barChart({
      title: `Private memory per worker, ${n(memory.ranges)} ranges`, unit: 'MiB per worker (median, min–max)',
      format: (v) => `${v.toFixed(1)} MiB`,
      bars: memory.rows.map((row) => ({ label: `${row.workers} worker${row.workers > 1 ? 's' : ''}, ${row.mode === 'none' ? 'no data' : row.mode}`,
        value: row.perWorker.private / 1024, lo: row.privateSpread[0] / 1024, hi: row.privateSpread[1] / 1024, accent: row.mode !== 'none' })),
    }) });
  }
  const sync = ok(r, 'sync');
  if (sync) {
    charts.push({ name: 'sync', title: 'Rule change to enforcement', svg: barChart({
      title: 'Rule change on the hub → enforced in the client', unit: 'ms', format: (v) => `${v.toFixed(0)} ms`,
      bars: sync.rows.flatMap((s) => [
        { label: `poll interval ${s.intervalMs} ms (reference)`, value: s.intervalMs },
        { label: `p50, polling every ${s.intervalMs} ms`, value: s.p50, accent: true },
        { label: `p95, polling every ${s.intervalMs} ms`, value: s.p95, accent: true },
      ]),
    }) });
  }
  const scale = ok(r, 'scale');
  if (scale) {
    const first = scale.rows[0];
    charts.push({ name: 'scale', title: 'Scale curve', svg: lineChart({
      title: 'Cost per request against the number of ranges', xLabel: 'ranges (log scale)', yLabel: 'ns (median)', logX: true,
      format: (v) => v.toFixed(0),
      formatX: (v) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : `${v}`),
      series: [
        { name: 'engine.evaluate', points: scale.rows.map((row) => ({ x: row.ranges, y: row.evaluate.ns })) },
        { name: 'memory lookup', points: scale.rows.map((row) => ({ x: row.ranges, y: row.memory.ns })) },
        { name: 'parse only', points: scale.rows.map((row) => ({ x: row.ranges, y: row.parse.ns })) },
        ...(first ? [{ name: 'log2 n from first', dashed: true, points: scale.rows.map((row) => ({ x: row.ranges, y: first.evaluate.ns * row.log2Growth })) }] : []),
      ],
    }) });
  }
  return charts;
}

/** The whole report; `chartFile` gives the file name each chart was saved under. */
export function fullReport(r: BenchResults, charts: Chart[], chartFile: (c: Chart) => string): string {
  const lines = [
    `# Moat benchmark, ${r.date}${r.quick ? ' (quick run: sizes too small for conclusions)' : ''}`,
    '',
    `Machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join(', ')}. Total ${(r.totalSeconds / 60).toFixed(1)} min.`,
    '',
    `Rerun with \`${r.rerun}\` (\`--only lookup,memory\` runs some parts; \`--quick\` tiny sizes). Each figure is the median of several rounds ` +
      '(min–max in brackets or a spread column), and each is compared with a baseline measured in the same run. Absolute times move ' +
      'between runs and machines (other work on a 2-core VM shows in the spreads); the ratios carry over.',
    '',
    '## Headline', '',
    headlineTable(r),
  ];
  for (const c of charts) lines.push(`![${c.title}](${chartFile(c)})`, '');
  const targets = targetsTable(r);
  if (targets !== '') lines.push('## Targets', '', "The open issues' measurable targets and this run's figures (bench/targets.ts).", '', targets);
  lines.push('## Parts', '', '| part | status | seconds |', '|---|---|---:|');
  for (const k of PARTS) {
    const p = r.parts[k];
    lines.push(`| ${k} | ${p.status === 'ok' ? 'ok' : p.status === 'failed' ? `failed: ${p.error.split('\n')[0]}` : `not run (${p.reason})`} | ${'seconds' in p ? p.seconds.toFixed(0) : ''} |`);
  }
  lines.push('');
  const engine = ok(r, 'engine');
  if (engine) lines.push(...engineSection(engine));
  const data = ok(r, 'data');
  if (data) lines.push(dataReport(data));
  const lookup = ok(r, 'lookup');
  if (lookup) lines.push(...lookupSection(lookup));
  const servers = ok(r, 'servers');
  if (servers) lines.push(...servers.markdown);
  const web = ok(r, 'web');
  if (web) lines.push(...web.markdown);
  const attacks = ok(r, 'attacks');
  if (attacks) {
    lines.push('## Attack detection', '', '| case | approach | per request | spread | added |', '|---|---|---:|---|---:|',
      ...attacks.rows.map((a) => `| ${a.case} | ${a.approach} | ${fmtNs(a.m.ns)} | ${fmtNs(a.m.min)}–${fmtNs(a.m.max)} | ${a.addedNs === undefined ? '' : fmtNs(a.addedNs)} |`), '');
  }
  const zen = ok(r, 'attacksZen');
  if (zen) {
    lines.push('## Attack detection side by side with Zen (same vulnerable app, same corpus)', '',
      '| category | endpoint | payloads | Zen blocked | Moat blocked |', '|---|---|---:|---:|---:|',
      ...zen.rows.map((z) => `| ${z.category} | ${z.endpoint} | ${z.sent} | ${z.zenBlocked === null ? 'n/a (no sink)' : z.zenBlocked} | ${z.moatBlocked} |`),
      `| benign | rotating | ${zen.benign.sent} | ${zen.benign.zenBlocked} | ${zen.benign.moatBlocked} |`, '',
      ...zen.notes.map((n) => `- ${n}`), '');
  }
  const bots = ok(r, 'bots');
  if (bots) {
    lines.push('## Verified bots', '', '| case | bots off | bots on | added (paired, quartiles) | decision with bots on |', '|---|---:|---:|---|---|',
      ...bots.rows.map((b) => `| ${b.case} | ${fmtNs(b.offNs)} | ${fmtNs(b.onNs)} | ${fmtNs(b.added.median)} (${fmtNs(b.added.spread[0])}–${fmtNs(b.added.spread[1])}) | ${b.decision} |`), '');
  }
  const memory = ok(r, 'memory');
  if (memory) lines.push(...memorySection(memory));
  const sync = ok(r, 'sync');
  if (sync) lines.push(...syncSection(sync));
  const bans = ok(r, 'bans');
  if (bans) lines.push(...bansSection(bans));
  const swap = ok(r, 'swap');
  if (swap) lines.push(...swap.markdown);
  const hub = ok(r, 'hub');
  if (hub) lines.push(...hubSection(hub));
  const scale = ok(r, 'scale');
  if (scale) lines.push(...scaleSection(scale));
  return `${lines.join('\n')}\n`;
}
