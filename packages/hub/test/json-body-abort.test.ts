// A client that announces a JSON body and goes away half-way used to be answered (and logged) as the
// hub's own 500. It is the client's fault: answered 400, as Fastify's own body reader answers it. A real
// Fastify app with the hub's JSON parser and a raw socket cut mid-body.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { registerJsonParser } from '../src/server/json-body.js';

test('a JSON body cut off by the client is a 400 body_unreadable, not a 500', async () => {
  const app = Fastify({ logger: false });
  registerJsonParser(app);
  const errors: { statusCode?: number; code?: string }[] = [];
  app.addHook('onError', async (_request, _reply, error) => { errors.push(error as { statusCode?: number; code?: string }); });
  app.post('/x', async (request) => request.body);
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const port = (app.server.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"${'x'.repeat(1000)}`);
    // Once the server has the first bytes, the client goes away.
    await sleep(50);
    socket.destroy();
    while (errors.length === 0) await sleep(20);
    assert.equal(errors[0]!.statusCode, 400);
    assert.equal(errors[0]!.code, 'body_unreadable');
    // A whole body still parses.
    const answer = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.deepEqual(await answer.json(), { a: 1 });
  } finally {
    await app.close();
  }
});
