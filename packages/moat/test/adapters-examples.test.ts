// Every example in examples/ starts as documented (`node --import tsx examples/<x>.ts`, here on port 0
// and against the client's source) and blocks what its rules.json says.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { send } from './adapters-helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = ['node-http', 'express', 'fastify', 'hono', 'koa', 'nest'];

/** Starts an example and resolves with its port once it says it is listening. */
function startExample(name: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], {
    cwd: root,
    env: { ...process.env, PORT: '0', TSX_TSCONFIG_PATH: 'examples/tsconfig.from-source.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => { child.kill(); });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start in time:\n${output}`)), 180_000); // a hang guard: tsx compiles each example on a shared machine
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ port: Number(match[1]), child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}):\n${output}`)); });
  });
}

test('the examples start, serve, and block', async () => {
  const started = await Promise.all(EXAMPLES.map(async (name) => ({ name, ...(await startExample(name)) })));
  for (const { name, port } of started) {
    const ok = await send(port, { path: '/' });
    assert.equal(ok.status, 200, name);
    assert.match(ok.body, /hello/, name);
    const blocked = await send(port, { path: '/%77p-admin/' });
    assert.equal(blocked.status, 403, name);
    assert.equal(blocked.body, 'Blocked', name);
    assert.equal((await send(port, { path: '/', headers: { 'user-agent': 'sqlmap/1.7' } })).status, 403, name);
  }
});
