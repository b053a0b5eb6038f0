// The client as a user installs it: `npm pack` of packages/moat (what `npm publish` would upload), unpacked
// into a scratch app's node_modules/moat-waf outside this checkout, so nothing can resolve through the
// workspace. The app imports only `moat-waf` and `moat-waf/adapters/node`, its rules are compiled by the
// packed bin, and it must block on a real socket. A file missing from `files` (or a stray dev-only import)
// fails here, not at a user's first start. A second script imports every published entry point, checks
// that internal files are not importable, and that the OpenTelemetry entry, with the optional
// `@opentelemetry/api` absent (as it is in this app), fails with its code instead of crashing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers/cli-build.js';

const run = promisify(execFile);
const CLIENT = path.join(ROOT, 'packages/moat');

/** No npm lifecycle variables (they would point npm at this checkout's root) and no registry access. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k];
  return { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

const APP = `
import { createServer } from 'node:http';
import { Engine } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

const rules = process.argv[2];
// The main entry must load too, and read the file the packed bin wrote.
const engine = Engine.open({ rules });
const ruleCount = engine.rules.rules.length;
engine.close();

const server = createServer(withMoat((req, res) => res.end('shop ' + req.url), { rules, trustedProxies: [] }));
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port, ruleCount, resolved: import.meta.resolve('moat-waf') }));
});
`;

/** Every published entry point, imported as a user would; the internal helpers must stay unreachable. */
const SURFACE = `
import { readFileSync } from 'node:fs';
import { createFirewall } from 'moat-waf';

const manifest = JSON.parse(readFileSync(new URL('./node_modules/moat-waf/package.json', import.meta.url), 'utf8'));
const entries = {};
for (const key of Object.keys(manifest.exports)) {
  const specifier = key === '.' ? 'moat-waf' : 'moat-waf/' + key.slice(2);
  // next-preload only installs a hook; loading it is what it is for, and harmless here.
  entries[specifier] = Object.keys(await import(specifier)).sort();
}
const internal = {};
for (const helper of ['firewall-from', 'send-node-response', 'node-request-context', 'fetch-request']) {
  internal[helper] = await import('moat-waf/adapters/' + helper).then(() => 'imported', (e) => e.code);
}
const { registerOtelMetrics } = await import('moat-waf/otel');
const firewall = createFirewall({ logger: false, trustedProxies: [] });
const otel = await registerOtelMetrics(firewall).then(() => 'registered', (e) => ({ code: e.code, message: e.message }));
console.log(JSON.stringify({ entries, internal, otel }));
`;

/**
 * The same entry points from a CommonJS app (most Express apps still are one): Node's require() of an ES
 * module (20.19 and later, unflagged) works only while no module in the graph awaits at top level.
 */
const SURFACE_CJS = `
const manifest = require('./node_modules/moat-waf/package.json');
const entries = {};
for (const key of Object.keys(manifest.exports)) {
  const specifier = key === '.' ? 'moat-waf' : 'moat-waf/' + key.slice(2);
  try {
    // require() marks an ES module's namespace with __esModule for transpiled callers.
    entries[specifier] = Object.keys(require(specifier)).filter((k) => k !== '__esModule').sort();
  } catch (error) {
    entries[specifier] = 'refused: ' + error.code + ' ' + error.message.split('\\n')[0];
  }
}
const { moat } = require('moat-waf/adapters/express');
console.log(JSON.stringify({ entries, express: typeof moat }));
`;

/**
 * A TypeScript app naming the types public signatures use. Compiled with skipLibCheck off and only
 * @types/node installed, so a public declaration that reaches a type of a dev-only package (or one
 * the package does not export) fails here.
 */
const CONSUMER = `
import {
  createFirewall, createManagedFirewall, Engine, type FirewallStats, type DecisionCounts, type ManagedStatus, type HubFailoverStatus,
  type ResolvedSync, type DataMode, type UninspectedReason, type UpsyncRejections, type UpsyncFormat, type FirewallOrOptions,
} from 'moat-waf';
import { buildDataFile, compileData, type CompiledData } from 'moat-waf/data';
import { writeWafrisDataFile, writeWafrisRulesFile } from 'moat-waf/wafris';
import { parseRange, type IpRange } from 'moat-waf/ip';
import { Replay, type TrafficSummaryResult } from 'moat-waf/replay';
import { moat } from 'moat-waf/adapters/express';
import { withMoat } from 'moat-waf/adapters/node';
import { withMoatFetch } from 'moat-waf/adapters/web';

const options: FirewallOrOptions = { trustedProxies: [], dataMode: 'light' satisfies DataMode };
const stats: FirewallStats = createFirewall().stats();
const blocked: DecisionCounts['Blocked'] = stats.decisions.Blocked;
const reasons: UninspectedReason[] = Object.keys(stats.bodiesUninspected) as UninspectedReason[];
type Hubs = ManagedStatus['hubs'];
const hub: HubFailoverStatus | null = null as Hubs['downsync'];
const settings: ResolvedSync['dataMode'] = createManagedFirewall({ upsync: false }).settings.dataMode;
const rejected: UpsyncRejections = {};
const format: UpsyncFormat = 'compact';
const compiled: CompiledData = compileData({});
const range: IpRange = parseRange('192.0.2.0/24');
const summary: TrafficSummaryResult | null = null;
export { options, blocked, reasons, hub, settings, rejected, format, compiled, range, summary, Engine, buildDataFile,
  writeWafrisDataFile, writeWafrisRulesFile, Replay, moat, withMoat, withMoatFetch };
`;

describe('the packed moat-waf tarball installed into a scratch app', () => {
  let work: string;
  let tarball: string;
  let entries: string[];
  let app: string;
  let server: ChildProcess | undefined;
  let port: number;
  let started: { ruleCount: number; resolved: string };

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'moat-pack-'));
    // A real `npm pack`, prepack (an up-to-date `tsc -b`) included, as `npm publish` runs it.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: CLIENT, env: offlineEnv(), maxBuffer: 64 << 20 });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    tarball = path.join(work, packed.filename);
    entries = (await run('tar', ['-tzf', tarball], { maxBuffer: 64 << 20 })).stdout.split('\n').filter(Boolean);

    app = path.join(work, 'app');
    const installed = path.join(app, 'node_modules/moat-waf');
    fs.mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    // The two runtime dependencies are linked to the workspace's installed copies instead of installed from
    // the registry: CI may have no registry access, and better-sqlite3 compiles from source for minutes.
    for (const dep of ['better-sqlite3', 'yaml', 'isbot']) {
      fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(app, 'node_modules', dep), 'dir');
    }
    fs.writeFileSync(path.join(app, 'package.json'), '{"name":"scratch-shop","private":true,"type":"module"}\n');
    fs.writeFileSync(path.join(app, 'server.js'), APP);
    fs.writeFileSync(path.join(app, 'surface.js'), SURFACE);
    fs.writeFileSync(path.join(app, 'surface.cjs'), SURFACE_CJS);
    fs.writeFileSync(path.join(app, 'rules.json'), JSON.stringify({ block: { paths: ['/wp-admin'], userAgents: ['sqlmap'] } }));
  });

  after(() => {
    server?.kill();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds the built library, its types, the bin and data, and no tests, sources or maps', () => {
    assert.ok(entries.every((e) => e.startsWith('package/')), 'every entry under package/');
    const files = entries.map((e) => e.slice('package/'.length));
    for (const needed of ['package.json', 'README.md', 'bin/moat.js', 'dist/index.js', 'dist/index.d.ts', 'dist/adapters/node.js',
      'dist/adapters/node.d.ts', 'dist/cli/main.js', 'dist/sync/verify-worker.js']) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
    assert.ok(files.some((f) => /^data\/cloudflare-ips-.*\.json$/.test(f)), 'the bundled Cloudflare ranges are packed');
    const stray = files.filter((f) => /^(test|src)\//.test(f) || /\.test\./.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts'))
      || f.endsWith('.map') || f.endsWith('.tsbuildinfo'));
    assert.deepEqual(stray, []);
  });

  test('every published entry point loads from the tarball, internal helpers do not, and OpenTelemetry without @opentelemetry/api fails with its code', async () => {
    const { stdout } = await run(process.execPath, ['surface.js'], { cwd: app });
    const result = JSON.parse(stdout) as {
      entries: Record<string, string[]>; internal: Record<string, string>; otel: { code: string; message: string } | string;
    };
    assert.deepEqual(Object.keys(result.entries).sort(), [
      'moat-waf', 'moat-waf/adapters/astro', 'moat-waf/adapters/express', 'moat-waf/adapters/fastify', 'moat-waf/adapters/h3',
      'moat-waf/adapters/hono', 'moat-waf/adapters/koa', 'moat-waf/adapters/nest', 'moat-waf/adapters/next', 'moat-waf/adapters/next-preload',
      'moat-waf/adapters/next-proxy', 'moat-waf/adapters/node', 'moat-waf/adapters/web', 'moat-waf/data', 'moat-waf/ip', 'moat-waf/otel',
      'moat-waf/ratelimit/redis', 'moat-waf/replay', 'moat-waf/wafris',
    ]);
    // One runtime name of each subpath entry: the packed files are the built ones, not stubs.
    assert.ok(result.entries['moat-waf']!.includes('createManagedFirewall'));
    assert.ok(result.entries['moat-waf/data']!.includes('buildDataFile'));
    assert.ok(result.entries['moat-waf/wafris']!.includes('writeWafrisRulesFile'));
    assert.ok(result.entries['moat-waf/ip']!.includes('parseRange'));
    assert.ok(result.entries['moat-waf/replay']!.includes('Replay'));
    assert.ok(result.entries['moat-waf/otel']!.includes('registerOtelMetrics'));
    assert.ok(!result.entries['moat-waf']!.includes('buildDataFile'), 'data building is not on the root entry');
    assert.deepEqual(result.internal, {
      'firewall-from': 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'send-node-response': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'node-request-context': 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'fetch-request': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
    assert.equal(typeof result.otel, 'object', 'registerOtelMetrics rejected');
    const otel = result.otel as { code: string; message: string };
    assert.equal(otel.code, 'MOAT_ERR_DEPENDENCY_MISSING');
    assert.match(otel.message, /@opentelemetry\/api/);
  });

  test('a CommonJS app require()s every published entry point and gets what an import gets, on Node 20, 22 and 24', async () => {
    const imported = (JSON.parse((await run(process.execPath, ['surface.js'], { cwd: app })).stdout) as { entries: Record<string, string[]> }).entries;
    const releases = ['22.23.3', '24.22.3'].map((v) => path.join(ROOT, 'node_modules', '.cache', 'node-runtimes', v, 'bin', 'node'));
    for (const node of [process.execPath, ...releases]) {
      assert.ok(fs.existsSync(node), `${node} is not there: run bash scripts/ensure-node-runtimes.sh (npm test does)`);
      const required = JSON.parse((await run(node, ['surface.cjs'], { cwd: app })).stdout) as { entries: Record<string, string[] | string>; express: string };
      assert.deepEqual(required.entries, imported, node);
      assert.equal(required.express, 'function');
    }
  });

  test('a TypeScript app compiles against the packed types with skipLibCheck off and only @types/node installed', async () => {
    fs.mkdirSync(path.join(app, 'node_modules/@types'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules/@types/node'), path.join(app, 'node_modules/@types/node'), 'dir');
    fs.writeFileSync(path.join(app, 'consumer.ts'), CONSUMER);
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const errors = await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--skipLibCheck', 'false', '--types', 'node', 'consumer.ts'], { cwd: app, maxBuffer: 16 << 20 })
      .then(() => '', (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
    assert.equal(errors, '', 'the consumer compiles');
  });

  test('the packed manifest is moat-waf with a moat-waf bin that node can run', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/moat-waf/package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
    assert.equal(manifest.name, 'moat-waf');
    assert.deepEqual(Object.keys(manifest.bin), ['moat-waf']);
    const bin = fs.readFileSync(path.join(app, 'node_modules/moat-waf', manifest.bin['moat-waf']), 'utf8');
    assert.ok(bin.startsWith('#!/usr/bin/env node\n'), 'the bin has a node shebang');
  });

  test('the packed bin compiles the rules file', async () => {
    const { stdout } = await run(process.execPath, ['node_modules/moat-waf/bin/moat.js', 'compile', 'rules.json', '-o', 'rules.db'], { cwd: app });
    assert.match(stdout, /2 rules/);
    assert.ok(fs.statSync(path.join(app, 'rules.db')).size > 0);
  });

  test('a node:http app importing only moat-waf answers 403 to GET /wp-admin and its encodings, 200 elsewhere', async () => {
    server = spawn(process.execPath, ['server.js', 'rules.db'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    server.stderr!.on('data', (b) => (stderr += b));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (b) => {
        out += b;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      server!.on('exit', (code) => reject(new Error(`scratch app exited with ${code}: ${stderr}`)));
    });
    ({ port, ...started } = JSON.parse(line) as { port: number; ruleCount: number; resolved: string });
    assert.equal(started.ruleCount, 2);
    // Resolved from the unpacked tarball, not through the workspace's node_modules.
    assert.ok(started.resolved.startsWith(new URL(`file://${fs.realpathSync(app)}/node_modules/moat-waf/`).href), started.resolved);

    const get = async (p: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers });
      return { status: res.status, body: await res.text() };
    };
    for (const attack of ['/wp-admin', '/wp-admin/install.php', '/%77p-admin', '//wp-admin', '/./x/../wp-admin']) {
      assert.equal((await get(attack)).status, 403, `GET ${attack} is blocked`);
    }
    assert.equal((await get('/products', { 'user-agent': 'sqlmap/1.8' })).status, 403, 'sqlmap is blocked');
    assert.deepEqual(await get('/products'), { status: 200, body: 'shop /products' });
  });
});
