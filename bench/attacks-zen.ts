/**
 * Attack detection side by side with Zen by Aikido (@aikidosec/firewall, blocking mode, no token): the
 * same deliberately vulnerable Express app (bench/lib/vulnerable-app.cjs) run three times — unprotected,
 * under Zen, under Moat with every attack category in block mode — and the same labelled corpus
 * (packages/moat/test/fixtures/attacks) sent over HTTP on 127.0.0.1 to each.
 *
 * Honest by construction: Zen only stops an attack when it reaches a sink it wraps, so each payload is sent
 * to the endpoint whose sink it targets (SQL injection → the SQL query, shell → exec, traversal → the file
 * read, SSRF → fetch). XSS, NoSQL, prototype pollution and template payloads have no sink Zen wraps in
 * this app (no MongoDB driver, no template engine; Zen does not look at XSS), so they go to /echo and
 * Zen's column says so. SSRF payloads are limited to loopback targets (after URL parsing), because the
 * app must not send a request off the machine. Bounded in time: at most SAMPLE payloads per category and
 * BENIGN benign inputs, taken at even steps through each file (deterministic).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRulesFile } from '../packages/moat/src/format/write-rules.js';
import { normalizeAttackSettings } from '../packages/moat/src/rules/attack-settings.js';

export interface AttacksZenOptions {
  quick?: boolean;
  log?: (s: string) => void;
}

export interface AttacksZenRow {
  category: string;
  endpoint: string;
  /** Payloads sent. */
  sent: number;
  /** Of those, how many the unprotected app answered 200 (served; a failing sink call is answered 200 too). */
  served: number;
  zenBlocked: number | null;
  moatBlocked: number;
}

export interface AttacksZenResult {
  rows: AttacksZenRow[];
  benign: { sent: number; zenBlocked: number; moatBlocked: number };
  zenProtecting: boolean;
  notes: string[];
}

const CATEGORIES: { category: string; endpoint: string; param: string; zenSink: boolean }[] = [
  { category: 'sqli', endpoint: '/sqli', param: 'q', zenSink: true },
  { category: 'shell', endpoint: '/shell', param: 'host', zenSink: true },
  { category: 'traversal', endpoint: '/file', param: 'name', zenSink: true },
  { category: 'ssrf', endpoint: '/fetch', param: 'url', zenSink: true },
  { category: 'xss', endpoint: '/echo', param: 'msg', zenSink: false },
  { category: 'nosql', endpoint: '/echo', param: 'msg', zenSink: false },
  { category: 'prototype', endpoint: '/echo', param: 'msg', zenSink: false },
  { category: 'template', endpoint: '/echo', param: 'msg', zenSink: false },
];
const BENIGN_ENDPOINTS = CATEGORIES.slice(0, 4);

const FIXTURES = new URL('../packages/moat/test/fixtures/attacks/', import.meta.url);
const APP = new URL('./lib/vulnerable-app.cjs', import.meta.url).pathname;

function lines(name: string): string[] {
  return readFileSync(new URL(name, FIXTURES), 'utf8').split('\n').filter((l) => l !== '');
}

/** `n` items at even steps through `list` (all of it when shorter). */
function sample<T>(list: T[], n: number): T[] {
  if (list.length <= n) return list;
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * list.length) / n)]!);
}

function isLoopbackUrl(text: string): boolean {
  try {
    const h = new URL(text).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || h === '::ffff:7f00:1';
  } catch {
    return false;
  }
}

async function startApp(args: string[], env: Record<string, string>): Promise<{ port: number; child: ChildProcess }> {
  // Plain node, not the tsx loader this bench runs under: Zen refuses to protect an app run through tsx.
  const child = fork(APP, args, { execArgv: [], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`vulnerable app (${args[0]}) exited with ${code}`)));
  });
  return { port, child };
}

async function get(port: number, path: string): Promise<{ status: number; zen: boolean }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  await response.arrayBuffer();
  return { status: response.status, zen: response.headers.get('blocked-by') === 'zen' };
}

export async function runAttacksZen(o: AttacksZenOptions = {}): Promise<AttacksZenResult> {
  const log = o.log ?? (() => {});
  const perCategory = o.quick ? 15 : 60;
  const benignCount = o.quick ? 60 : 400;
  const dir = mkdtempSync(join(tmpdir(), 'moat-attacks-zen-'));
  const rulesPath = join(dir, 'rules.moat');
  writeRulesFile([], rulesPath, { attacks: normalizeAttackSettings('block') });
  const apps: ChildProcess[] = [];
  try {
    const plain = await startApp(['plain'], {});
    const zen = await startApp(['zen'], { AIKIDO_BLOCK: 'true' });
    const moat = await startApp(['moat', rulesPath], {});
    apps.push(plain.child, zen.child, moat.child);
    // Zen protects only once its hooks are in: a plain SQL injection must be stopped, else the column is meaningless.
    const probe = await get(zen.port, `/sqli?q=${encodeURIComponent("' OR 1=1 -- ")}`);
    const zenProtecting = probe.zen;

    const rows: AttacksZenRow[] = [];
    for (const c of CATEGORIES) {
      let payloads = lines(`${c.category}.txt`);
      if (c.category === 'ssrf') payloads = payloads.filter(isLoopbackUrl);
      payloads = sample(payloads, perCategory);
      const row: AttacksZenRow = { category: c.category, endpoint: c.endpoint, sent: payloads.length, served: 0, zenBlocked: c.zenSink ? 0 : null, moatBlocked: 0 };
      // SQL payloads are written for a single-quoted, double-quoted or numeric slot: each goes to all
      // three queries, and counts as blocked by Zen when Zen stops it at any of them.
      const endpoints = c.category === 'sqli' ? ['/sqli', '/sqli-dq', '/sqli-num'] : [c.endpoint];
      for (const p of payloads) {
        const query = `?${c.param}=${encodeURIComponent(p)}`;
        if ((await get(plain.port, c.endpoint + query)).status === 200) row.served++;
        if (c.zenSink) {
          let stopped = false;
          for (const e of endpoints) if (!stopped && (await get(zen.port, e + query)).zen) stopped = true;
          if (stopped) row.zenBlocked!++;
        }
        if ((await get(moat.port, c.endpoint + query)).status === 403) row.moatBlocked++;
      }
      rows.push(row);
    }
    const benign = { sent: 0, zenBlocked: 0, moatBlocked: 0 };
    const benignLines = sample(lines('benign.txt'), benignCount);
    for (let i = 0; i < benignLines.length; i++) {
      const c = BENIGN_ENDPOINTS[i % BENIGN_ENDPOINTS.length]!;
      const path = `${c.endpoint}?${c.param}=${encodeURIComponent(benignLines[i]!)}`;
      benign.sent++;
      if ((await get(zen.port, path)).zen) benign.zenBlocked++;
      if ((await get(moat.port, path)).status === 403) benign.moatBlocked++;
    }
    const notes = [
      'Zen blocks at the sink: each payload goes to the endpoint whose sink it targets; categories without a sink Zen wraps here are n/a for Zen.',
      'SQL payloads go to a single-quoted, a double-quoted and a numeric query; Zen counts when it stops one at any of them.',
      'Moat judges the request (it also reads encoded and double-encoded forms an app or proxy may decode); Zen judges what reaches the sink, so an encoded payload this app does not decode again is no attack at its sink.',
      'Benign inputs land in the same vulnerable sinks: an apostrophe does change this app\'s SQL, which is where Zen blocks benign text.',
      'SSRF: loopback targets only (the app fetches nothing else), so metadata and link-local payloads are not in this row.',
      `Sampled: at most ${perCategory} payloads per category and ${benignCount} benign inputs, at even steps through each corpus file; benign inputs rotate over /sqli, /shell, /file, /fetch.`,
      zenProtecting ? 'Zen was protecting (a probe SQL injection was blocked).' : 'Zen was NOT protecting (the probe SQL injection passed): its column is not meaningful in this run.',
    ];
    log(`  ${'category'.padEnd(10)} ${'endpoint'.padEnd(8)} ${'sent'.padStart(5)} ${'served'.padStart(6)} ${'Zen'.padStart(6)} ${'Moat'.padStart(6)}`);
    for (const r of rows) {
      log(`  ${r.category.padEnd(10)} ${r.endpoint.padEnd(8)} ${String(r.sent).padStart(5)} ${String(r.served).padStart(6)} ${(r.zenBlocked === null ? 'n/a' : String(r.zenBlocked)).padStart(6)} ${String(r.moatBlocked).padStart(6)}`);
    }
    log(`  benign blocked: Zen ${benign.zenBlocked}/${benign.sent}, Moat ${benign.moatBlocked}/${benign.sent}`);
    for (const n of notes) log(`  note: ${n}`);
    return { rows, benign, zenProtecting, notes };
  } finally {
    for (const child of apps) child.disconnect?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run directly: node --import tsx bench/attacks-zen.ts [--quick]
if (import.meta.url === `file://${process.argv[1]}`) {
  await runAttacksZen({ quick: process.argv.includes('--quick'), log: console.log });
}
