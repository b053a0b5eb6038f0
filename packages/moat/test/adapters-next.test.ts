// Next.js on the Node runtime behind a custom server, with real Next: the example app in
// examples/next-custom-server is built once (`next build`, telemetry off, nothing leaves 127.0.0.1), then served by
// `moatForNext(app, firewall)` for the shared adapter conformance set, and the example server itself
// is started as documented.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { moatForNext, type NextAppLike } from '../src/adapters/next.js';
import type { Firewall } from '../src/firewall/firewall.js';
import { adapterConformance, close, listen, send } from './adapters-helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const appDir = fileURLToPath(new URL('../../../examples/next-custom-server/', import.meta.url));
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
process.env.NEXT_TELEMETRY_DISABLED = '1';

let app: NextAppLike & { close?: () => Promise<void> };

before(async () => {
  const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
  const build = spawnSync(process.execPath, [nextBin, 'build', appDir], { cwd: root, env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(build.status, 0, `next build failed:\n${build.stdout}\n${build.stderr}`);
  const next = (await import('next')).default as unknown as (options: { dev: boolean; dir: string; quiet?: boolean }) => NextAppLike & { prepare(): Promise<void>; close?: () => Promise<void> };
  const server = next({ dev: false, dir: appDir, quiet: true });
  await server.prepare();
  app = server;
}, { timeout: 360_000 });

after(async () => { await app?.close?.(); });

/** One Next app for every test; each gets its own protected server on it. */
async function start(firewall: Firewall): Promise<number> {
  const server = createServer(moatForNext(app, firewall));
  const port = await listen(server);
  after(() => close(server));
  return port;
}

adapterConformance('next', start);

test('next: the example server starts as documented and blocks what rules.json says', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/next-custom-server/server.ts'], {
    cwd: root, env: { ...env, PORT: '0', TSX_TSCONFIG_PATH: 'examples/tsconfig.from-source.json' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => { child.kill(); });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the next example did not start in time:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) { clearTimeout(timer); resolve(Number(match[1])); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the next example exited (${code}):\n${output}`)); });
  });
  const ok = await send(port, { path: '/' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'hello');
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
});
