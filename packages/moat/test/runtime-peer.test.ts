// Bun and Deno: requests whose client address the runtime does not give. A Unix socket counts as one (a
// trusted one reads the client-IP header, as on Node), and a TCP peer gone before the handler ran is
// Node's closed connection: never passed on, so a blocked client cannot send a request and reset the
// connection to have it run unjudged. Each runtime runs test/fixtures/runtime/peer-server.ts, as the
// other runtime tests run the examples.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rulesFile } from './adapters-helpers.js';
import { ROOT } from './helpers/web-runtime-conformance.js';

const require = createRequire(import.meta.url);
const SERVER = 'packages/moat/test/fixtures/runtime/peer-server.ts';
const RUNTIMES: Record<'bun' | 'deno', readonly string[]> = {
  bun: [join(dirname(require.resolve('bun/package.json')), 'bin', 'bun.exe'), SERVER],
  deno: [join(dirname(require.resolve('deno/package.json')), 'deno'), 'run', '--allow-read', '--allow-write', '--allow-env',
    '--allow-net=127.0.0.1', '--allow-sys', '--config', 'examples/deno/deno.json', SERVER],
};

interface Running { port: number; output: () => string }

function start(runtime: keyof typeof RUNTIMES, env: Record<string, string>): Promise<Running> {
  const [bin, ...args]: string[] = [...RUNTIMES[runtime]];
  // Deno asks for net access to a Unix socket's path too.
  const net = args.indexOf('--allow-net=127.0.0.1');
  if (env.UNIX !== undefined && net >= 0) args.splice(net, 1, `--allow-net=127.0.0.1,unix:${env.UNIX}`);
  const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => { child.kill(); });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (?:http:\/\/127\.0\.0\.1:(\d+)|unix)/.exec(output);
      if (match) resolve({ port: Number(match[1] ?? 0), output: () => output });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${runtime} exited (${code}):\n${output}`)));
  });
}

function overUnixSocket(path: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(request);
  });
}

for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
  test(`${runtime}: a request on a Unix socket listed in trustedProxies is judged by the client-IP header`, async () => {
    const rules = rulesFile({ block: { ips: ['203.0.113.66'] } });
    const dir = mkdtempSync(join(tmpdir(), 'moat-unix-'));
    after(() => { rules.cleanup(); rmSync(dir, { recursive: true, force: true }); });
    const socket = join(dir, 's.sock');
    await start(runtime, { MOAT_RULES: rules.path, UNIX: socket, TRUSTED_PROXY_RANGES: 'unix' });
    const get = (client: string) => overUnixSocket(socket, `GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\nx-forwarded-for: ${client}\r\n\r\n`);
    assert.match(await get('203.0.113.66'), /^HTTP\/1\.1 403/);
    assert.match(await get('198.51.100.7'), /^HTTP\/1\.1 200/);
  });

  for (const mode of ['fetch', 'h3'] as const) test(`${runtime}, ${mode === 'h3' ? 'h3 2 app' : 'fetch handler'}: a blocked client's POST whose connection is reset at once never reaches the app`, async () => {
    const rules = rulesFile({ block: { ips: ['127.0.0.1'] } });
    after(() => rules.cleanup());
    const server = await start(runtime, { MOAT_RULES: rules.path, TRUSTED_PROXY_RANGES: '', MODE: mode });
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write('POST /transfer HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n');
          socket.resetAndDestroy();
          resolve();
        });
        socket.on('error', () => resolve());
      });
    }
    // A last request, not reset, answered once the server has dispatched those before it.
    const last = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('GET /last HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n'));
      let answer = '';
      socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1'); });
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    assert.match(last, /^HTTP\/1\.1 403/, 'the blocked address is blocked');
    await sleep(200);
    assert.doesNotMatch(server.output(), /reached POST/);
  });
}
