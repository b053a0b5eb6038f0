// The bench must keep working: a quick run of every part (tiny sizes) must produce numbers, a report and
// charts. Timings are never asserted; correctness figures (missed true hits) are.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { barChart, lineChart } from './charts.js';
import { alternatingFigures, blockIsOn, type AlternatingBlock } from './lib/alternating-blocks.js';
import { classifiedQueries, syntheticRanges, withSingles } from './lib/synthetic.js';
import { parseSmapsRollup } from './memory-bench.js';
import { PARTS, type BenchResults, type PartName, type PartResults } from './report.js';
import { targetRows, targetsAcrossRuns } from './targets.js';
import { parseIp } from '../packages/moat/src/ip/address.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const positive = (v: unknown, what: string) => assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${what} = ${String(v)}`);

test('classified queries have the answer they claim (checked by brute force)', () => {
  const ranges = withSingles(syntheticRanges(300, 9), 7);
  const queries = classifiedQueries(ranges, 600, 3);
  assert.ok(queries.length > 400);
  const kinds = new Set(queries.map((q) => q.kind));
  for (const k of ['start', 'end', 'single', 'inside', 'before start', 'after end']) assert.ok(kinds.has(k as never), k);
  for (const q of queries) {
    const ip = parseIp(q.ip);
    const inside = ranges.some((r) => r.family === ip.family && r.start <= ip.value && ip.value <= r.end);
    assert.equal(inside, q.expected, `${q.kind} ${q.ip}`);
  }
});

test('alternating blocks are paired off with on, in either order, within one process; short or unpaired blocks are left out', () => {
  const block = (on: boolean, requests: number, cpuUs: number, ms = 100): AlternatingBlock => ({ on, requests, ms, cpuUs, mainUs: cpuUs / 2 });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(blockIsOn), [false, true, true, false, false, true]);
  const figures = alternatingFigures([[
    block(false, 1000, 20_000), block(true, 800, 20_000), // +5 µs, −20 % req/s
    block(true, 900, 19_800), block(false, 1000, 20_000), // +2 µs, −10 %
    block(false, 1000, 20_000), block(false, 1000, 20_000), // the same mode twice: no pair
    block(false, 1000, 20_000), block(true, 10, 1_000), // too few requests: no pair
    block(false, 1000, 20_000, 50), block(true, 1000, 23_000, 100), // +3 µs, half the rate
    block(true, 1000, 90_000), // last of its process: paired with nothing, never with the next process's first
  ], [
    block(false, 1000, 30_000), block(true, 1000, 31_000), // +1 µs in a process of its own
  ], [
    block(true, 1000, 1), block(true, 1000, 1), // a process without a pair: no median of its own
  ]]);
  assert.ok(figures);
  assert.equal(figures.pairs, 4);
  assert.equal(figures.processes, 2);
  assert.deepEqual(figures.processMedians.map((m) => Math.round(m * 1e6) / 1e6), [3, 1]);
  assert.equal(figures.offCpuUs, 20);
  assert.ok(Math.abs(figures.cpuAddedUs.median - 2.5) < 1e-9 && Math.abs(figures.cpuAddedUs.mean - 11 / 4) < 1e-9);
  assert.ok(figures.cpuAddedUs.standardError > 0);
  assert.ok(Math.abs(figures.mainCpuAddedUs!.median - 1.25) < 1e-9);
  assert.ok(Math.abs(figures.change.median - -0.15) < 1e-9, String(figures.change.median));
  assert.equal(alternatingFigures([[block(true, 1000, 1), block(true, 1000, 1)]]), null);
});

test('smaps_rollup figures are read and summed', () => {
  const text = 'Rss:  1000 kB\nPss:  600 kB\nShared_Clean:  300 kB\nShared_Dirty:  10 kB\nPrivate_Clean:  90 kB\nPrivate_Dirty:  600 kB\n';
  assert.deepEqual(parseSmapsRollup(text), { rss: 1000, pss: 600, shared: 310, private: 690 });
});

test('targets: each measured target beside its figure, met or not by its own bound; parts that did not run add none', () => {
  const parts = Object.fromEntries(PARTS.map((k) => [k, { status: 'not run', reason: 'test' }])) as BenchResults['parts'];
  const figures = (change: number) => ({ reqPerSecond: 1, reqRounds: [], p99: 0, cpuUs: 1, cpuRounds: [], mainCpuUs: null,
    vsBare: { change: { median: change, spread: [change, change] }, cpuAddedUs: { median: 0, spread: [0, 0] }, cpuChange: { median: 0, spread: [0, 0] }, mainCpuAddedUs: null } });
  const servers = { rows: [{ server: 'node:http', variants: { moat: figures(-0.049), reporting: figures(-0.081), zen: figures(-0.4) } }] };
  (parts as Record<string, unknown>).servers = { status: 'ok', seconds: 1, result: servers };
  (parts as Record<string, unknown>).attacksZen = { status: 'ok', seconds: 1, result: {
    rows: [{ category: 'xss', endpoint: '/echo', sent: 10, served: 10, zenBlocked: null, moatBlocked: 9 }], benign: { sent: 5, zenBlocked: 0, moatBlocked: 1 }, zenProtecting: true, notes: [],
  } };
  const rows = targetRows({ date: '', quick: true, machine: {}, rerun: '', totalSeconds: 0, parts });
  assert.deepEqual(rows.map((r) => [r.issue, r.met]), [[15, true], [15, false], [15, true], [20, true], [20, false]]);
  assert.match(rows[1]!.target, /node:http, reporting every decision, separate processes: req\/s ≥ −8\.0 %/);
  assert.equal(rows[4]!.measured, 'Moat 1, Zen 0 of 5', 'one false positive against none: not met');

  // Across runs: one column per run, a target met in some runs counted as such, a part a run lacks shown as —.
  const second = { ...parts } as Record<string, unknown>;
  second.servers = { status: 'ok', seconds: 1, result: { rows: [{ server: 'node:http', variants: { ...servers.rows[0]!.variants, moat: figures(-0.06) } }] } };
  second.attacksZen = { status: 'not run', reason: 'test' };
  const across = targetsAcrossRuns([
    { name: 'first', results: { date: '', quick: false, machine: {}, rerun: '', totalSeconds: 0, parts } },
    { name: 'second', results: { date: '', quick: false, machine: {}, rerun: '', totalSeconds: 0, parts: second as BenchResults['parts'] } },
  ]).split('\n');
  assert.match(across[0]!, /\| first \| second \| met in \|$/);
  assert.match(across.find((l) => l.includes('Moat, reporting off, separate processes'))!, /\| −4\.9 % ✓ \| −6\.0 % \| 1 of 2 \|$/);
  assert.equal(across.filter((l) => l.includes('benign inputs')).length, 0, 'rows follow the last run, which did not run that part');
});

test('charts are well-formed SVG with escaped labels', () => {
  const bars = barChart({ title: 'a < b', unit: 'ns', log: true, bars: [{ label: 'x & y', value: 10, lo: 5, hi: 20 }, { label: 'z', value: 1000, accent: true }] });
  assert.match(bars, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(bars.includes('a &lt; b') && bars.includes('x &amp; y') && !bars.includes('x & y'));
  assert.equal((bars.match(/<rect /g) ?? []).length, 3); // background + two bars
  const lines = lineChart({ title: 't', xLabel: 'n', yLabel: 'ns', logX: true, series: [{ name: 's', points: [{ x: 1e3, y: 5 }, { x: 1e6, y: 9 }] }] });
  assert.equal((lines.match(/<circle /g) ?? []).length, 2);
  assert.ok(lines.trimEnd().endsWith('</svg>'));
});

// The quick run takes well under a minute on an idle machine, but CI machines are slow and shared: the
// guard below only catches a hung run, so it is far above any honest duration and asserts no speed.
const HUNG_AFTER_MS = 15 * 60_000;

test('npm run bench --quick runs every part and writes the JSON, the report and its charts', { timeout: HUNG_AFTER_MS + 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'moat-bench-test-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], {
      cwd: root, env: { ...process.env, MOAT_BENCH_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), HUNG_AFTER_MS);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    // A failed part says why where it ran, long before the tail: both are shown.
    const failures = output.split('\n').filter((line) => line.includes(' FAILED: ')).join('\n');
    assert.equal(code, 0, `${failures}\n…\n${output.slice(-3000)}`);

    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('-quick.json'));
    assert.ok(json, `no JSON in ${files.join(', ')}`);
    const r = JSON.parse(readFileSync(join(out, json), 'utf8')) as BenchResults;
    assert.equal(r.quick, true);
    for (const part of PARTS) assert.equal(r.parts[part].status, 'ok', `${part}: ${JSON.stringify(r.parts[part]).slice(0, 500)}`);
    const ok = <K extends PartName>(k: K) => (r.parts[k] as { result: PartResults[K] }).result;

    const engine = ok('engine');
    assert.ok(engine.rows.length > 0);
    for (const row of engine.rows) positive(row.m.ns, `engine ${row.case} ${row.approach}`);
    for (const row of ok('data').lookups) positive(row.m.ns, `data ${row.approach}`);

    const lookup = ok('lookup');
    for (const row of lookup.rows) positive(row.m.ns, `lookup ${row.approach}`);
    for (const row of lookup.rows.filter((x) => x.approach.startsWith('moat'))) {
      assert.equal(row.misses?.missed, 0, `${row.approach} missed true hits`);
      assert.equal(row.misses?.falseHits, 0, `${row.approach} answered false hits`);
    }
    const wafris = lookup.rows.find((x) => x.approach.startsWith('wafris-v2'));
    assert.ok(wafris && wafris.misses && wafris.misses.missed > 0, 'the Wafris v2 encoding should miss range starts and singles');
    const redis = lookup.rows.find((x) => x.approach.startsWith('wafris-v1'));
    if (redis) {
      positive(redis.m.ns, 'redis');
      // The same encoding as Wafris v2, so the same fault: range starts and single addresses are not found.
      assert.ok(redis.misses && redis.misses.missed > 0 && (redis.misses.missedByKind.end ?? 0) === 0);
    } else {
      assert.ok(typeof lookup.redisSkipped === 'string' && lookup.redisSkipped.length > 0, 'no Redis row and no reason');
    }
    assert.ok(lookup.rows.some((x) => x.approach.includes('BlockList')));

    const servers = ok('servers');
    assert.ok(servers.rows.length > 0);
    for (const row of servers.rows) { positive(row.bare, `${row.server} bare`); positive(row.moat, `${row.server} moat`); }
    // Quick mode runs every variant, Zen and attack detection included, and measures the servers' CPU per request. Express also
    // runs a pass-through layer and Moat in the node:http listener, also on prototype-built requests (server-bench.ts).
    assert.deepEqual(servers.setup.variants, ['bare', 'control', 'moat', 'reporting', 'attacks', 'zen', 'layer', 'listener', 'prototypes', 'prototypesBare']);
    // Each separate-process round is measured right after unmeasured load on its server, and the report says so.
    assert.equal(servers.setup.warmSeconds, 0.1);
    assert.match(servers.markdown.join('\n'), /each right after 0\.1 s of unmeasured load on the same server/);
    // Each variant is paired with the bare measurements right before and after it: bare runs once more than the others per round.
    assert.match(servers.markdown.join('\n'), /against the mean of the two bare measurements right before and after it/);
    // Fastify's plugin beside Moat in the listener its serverFactory builds, in a section of its own.
    assert.match(servers.markdown.join('\n'), /\*\*Fastify: Moat before Fastify\.\*\* [^\n]*the listener [+−-]\d/);
    for (const row of servers.rows) {
      const others = Object.keys(row.variants).length - 1;
      assert.equal(row.variants.bare!.reqRounds.length, servers.setup.rounds * (others + 1), `${row.server}: bare measured around every variant`);
      for (const [v, f] of Object.entries(row.variants)) if (v !== 'bare') assert.equal(f!.reqRounds.length, servers.setup.rounds, `${row.server} ${v}`);
    }
    for (const row of servers.rows) {
      // Fastify also runs Moat in the listener its serverFactory builds.
      const expected = row.server === 'express'
        ? ['bare', 'control', 'moat', 'reporting', 'attacks', 'zen', 'layer', 'listener', 'prototypes', 'prototypesBare'] as const
        : row.server === 'fastify'
          ? ['bare', 'control', 'moat', 'reporting', 'attacks', 'zen', 'listener'] as const
          : ['bare', 'control', 'moat', 'reporting', 'attacks', 'zen'] as const;
      assert.deepEqual(Object.keys(row.variants).sort(), [...expected].sort(), row.server);
      for (const v of expected) {
        const f = row.variants[v];
        assert.ok(f, `${row.server} ${v} missing`);
        positive(f.reqPerSecond, `${row.server} ${v} req/s`);
        positive(f.cpuUs, `${row.server} ${v} CPU per request`);
        // The serving thread's share comes from Linux's schedstat, which this machine (and CI) has.
        positive(f.mainCpuUs, `${row.server} ${v} serving-thread CPU per request`);
        assert.ok(f.mainCpuUs! <= f.cpuUs * 1.05, `${row.server} ${v}: one thread used more CPU than the whole process`);
        if (v !== 'bare') assert.ok(f.vsBare && Number.isFinite(f.vsBare.cpuAddedUs.median), `${row.server} ${v} CPU added`);
      }
      // The same-process comparison ran for Moat's variants and the control, with a serving-thread figure.
      // On Express also a pass-through layer and Moat in the listener (the floor of a middleware, and the other way in).
      const alternatingVariants = ['attacks', 'control', 'moat', 'reporting', ...(row.server === 'express' ? ['layer', 'listener'] : row.server === 'fastify' ? ['listener'] : [])].sort();
      assert.deepEqual(Object.keys(row.alternating ?? {}).sort(), alternatingVariants, row.server);
      for (const [v, f] of Object.entries(row.alternating!)) {
        assert.ok(f.pairs > 0 && Number.isFinite(f.cpuAddedUs.median) && Number.isFinite(f.cpuAddedUs.standardError), `${row.server} ${v} pairs`);
        assert.ok(f.processes >= 1 && f.processMedians.length === f.processes, `${row.server} ${v} processes`);
        positive(f.offCpuUs, `${row.server} ${v} CPU per request, off`);
        assert.ok(f.mainCpuAddedUs && Number.isFinite(f.mainCpuAddedUs.mean), `${row.server} ${v} serving thread`);
      }
      assert.equal(row.zenProtecting, true, `${row.server}: Zen's hooks did not wrap the server`);
      assert.equal(row.errors, 0, `${row.server}: non-2xx answers`);
    }
    const swap = ok('swap');
    assert.ok(swap.rounds.length > 0);
    positive(swap.baseline.requests, 'swap baseline requests');
    const memory = ok('memory');
    assert.deepEqual([...new Set(memory.rows.map((x) => x.mode))].sort(), ['light', 'memory', 'none']);
    for (const row of memory.rows) { positive(row.perWorker.private, 'private'); positive(row.perWorker.rss, 'rss'); }
    const sync = ok('sync');
    assert.ok(sync.rows.length > 0);
    for (const row of sync.rows) { positive(row.p50, 'sync p50'); positive(row.p95, 'sync p95'); assert.equal(row.samples.length, row.changes); }
    const hub = ok('hub');
    positive(hub.ingest.httpRecordsPerSecond, 'hub ingest');
    positive(hub.queries.overviewMs, 'hub overview');
    // The backtests at two sizes, the keyed rate limit and the threshold draft among them (their rows in the report).
    assert.equal(new Set(hub.preview.map((p) => p.storedReports)).size, 2, 'previews at two sizes');
    for (const p of hub.preview) positive(p.scanned, `${p.preview} preview (${p.rule}) scanned`);
    assert.ok(hub.preview.some((p) => p.preview === 'threshold') && hub.preview.some((p) => p.rule.includes('header:x-api-key')));
    const scale = ok('scale');
    assert.ok(scale.rows.length >= 2);
    for (const row of scale.rows) { positive(row.evaluate.ns, 'scale evaluate'); assert.equal(row.missed, 0, `scale ${row.ranges}: wrong answers`); }

    const md = files.find((f) => f.endsWith('-quick.md'));
    assert.ok(md);
    const text = readFileSync(join(out, md), 'utf8');
    assert.match(text, /## Headline/);
    assert.match(text, /\| threshold preview: .* of target \|/);
    assert.match(text, /server CPU per request/);
    assert.match(text, /vs Zen/);
    // Every run shows its own noise floor: the bare server measured again as a variant.
    assert.match(text, /no firewall again \(the run's noise floor\) \| [\d,]+ \| without Moat/);
    assert.match(text, /CPU added per request, same process switching Moat on and off, reporting every decision \| [+−][\d.]+ µs/);
    assert.match(text, /### The same firewall in the same process, on and off/);
    const linked = [...text.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((m) => m[1]);
    for (const name of ['lookup', 'engine', 'servers', 'servers-cpu', 'memory', 'sync', 'scale']) assert.ok(linked.some((l) => l.endsWith(`-${name}.svg`)), `chart ${name} not linked`);
    for (const l of linked) {
      assert.ok(existsSync(join(out, l)), `${l} missing`);
      assert.match(readFileSync(join(out, l), 'utf8'), /^<svg[\s\S]*<\/svg>\s*$/);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
