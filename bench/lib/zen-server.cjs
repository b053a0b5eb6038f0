// The server bench's Zen variant: the same hello world as bench/server-bench.ts serves, protected by
// Zen by Aikido (@aikidosec/firewall). Plain CommonJS run by plain node, because Zen refuses to protect
// an app run through tsx and, on Node 20 (no module.registerHooks), only hooks CommonJS requires; so it
// is required first, before the framework, as its docs ask. Same IPC protocol as `--serve`: sends
// { port, zenProtecting } once listening, then answers each 'cpu' message with the CPU time so far
// (the whole process's and the serving thread's).
//
//   AIKIDO_BLOCK=true node bench/lib/zen-server.cjs <node:http|express|fastify>
'use strict';

const Zen = require('@aikidosec/firewall');
const { join } = require('node:path');
const http = require('node:http');
const { readFileSync } = require('node:fs');

const HELLO = 'hello world';
const REQUEST_PATH = '/products/42?page=2&sort=price';

// Zen's hooks are live when its request context is there inside the handler (checked on the first
// request only). The context module is not in its public exports, so it is read by file path.
const { getContext } = require(join(require.resolve('@aikidosec/firewall'), '..', 'agent', 'Context.js'));
let probed = false;
let zenProtecting = false;
function probe() {
  if (probed) return;
  probed = true;
  zenProtecting = getContext() !== undefined;
}

async function start(kind) {
  if (kind === 'node:http') {
    return http.createServer((_req, res) => {
      probe();
      res.setHeader('content-type', 'text/plain');
      res.end(HELLO);
    });
  }
  if (kind === 'express') {
    const express = require('express');
    const app = express();
    Zen.addExpressMiddleware(app);
    app.get('/products/:id', (_req, res) => { probe(); res.send(HELLO); });
    return http.createServer(app);
  }
  const Fastify = require('fastify');
  const app = Fastify();
  Zen.addFastifyHook(app);
  app.get('/products/:id', async () => { probe(); return HELLO; });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

// The serving thread's own CPU time, µs, from the kernel's scheduler statistics (ns); null off Linux.
function mainThreadMicros() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return null;
  }
}

async function main() {
  const server = await start(process.argv[2]);
  if (!server.listening) await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  // One request of our own, so the probe has run before the parent is told the port.
  const response = await fetch(`http://127.0.0.1:${port}${REQUEST_PATH}`);
  await response.text();
  process.on('message', (message) => {
    if (message !== 'cpu') return;
    const usage = process.cpuUsage();
    process.send({ cpuMicros: usage.user + usage.system, mainMicros: mainThreadMicros() });
  });
  process.send({ port, zenProtecting });
  process.on('disconnect', () => process.exit(0));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
