// `Expect: 100-continue`: the client sends its body only once the server says 100 Continue. Node says it
// before emitting 'request', but a server with a 'checkContinue' listener must say it itself. Wrapped by
// withMoat, that listener judged first and read the body of a request with a body rule before the app could
// say it: the client waited (curl gives up after 1 s and sends anyway; a client that waits for the 100 hung).
// Real node:http server and client on 127.0.0.1.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { withMoat } from '../../src/adapters/node.js';
import { firewallOn, listen } from '../adapters-helpers.js';

const RULES = { block: { paths: ['/admin'], params: ['<script'] } };
const FORM = 'application/x-www-form-urlencoded';

interface Outcome { status: number; body: string; continued: number }

/**
 * A POST that waits for 100 Continue before its body, as a careful client does; at most `waitMs` (then it
 * gives up and reports what it has: a server that never says 100 would hold it forever).
 */
function post(port: number, path: string, body: string, waitMs = 10_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let continued = 0;
    const req = httpRequest({ port, host: '127.0.0.1', path, method: 'POST', headers: {
      expect: '100-continue', 'content-type': FORM, 'content-length': Buffer.byteLength(body),
    } });
    const giveUp = setTimeout(() => {
      req.destroy();
      resolve({ status: 0, body: 'no answer and no 100', continued });
    }, waitMs);
    req.on('continue', () => {
      if (continued++ === 0) req.end(body);
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => {
        clearTimeout(giveUp);
        resolve({ status: res.statusCode ?? 0, body: text, continued });
      });
    });
    req.on('error', (error) => {
      clearTimeout(giveUp);
      reject(error);
    });
  });
}

/** The app: answers with the length of the body it read. */
function app(seen: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      seen.push(body);
      res.end(`read ${body.length}`);
    });
  };
}

async function server(withListener: boolean, rules: object = RULES): Promise<{ port: number; seen: string[] }> {
  const firewall = firewallOn(rules);
  const seen: string[] = [];
  const handler = app(seen);
  const node = createServer(withMoat(handler, firewall));
  // As Node's documentation writes such a listener: say 100, then handle the request.
  if (withListener) node.on('checkContinue', withMoat((req, res) => {
    res.writeContinue();
    handler(req, res);
  }, firewall));
  const port = await listen(node);
  after(() => new Promise<void>((resolve) => {
    node.closeAllConnections();
    node.close(() => resolve());
  }));
  return { port, seen };
}

const clean = `name=ann&note=${'x'.repeat(2000)}`;
const attack = `name=ann&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E`;

test('under a checkContinue listener, a body Moat must read is asked for: judged, then the app reads it whole', async () => {
  const { port, seen } = await server(true);
  const fine = await post(port, '/form', clean);
  assert.deepEqual([fine.status, fine.body], [200, `read ${clean.length}`], 'the client was told to send, the app read every byte');
  assert.ok(fine.continued >= 1);
  const refused = await post(port, '/form', attack);
  assert.deepEqual([refused.status, refused.body], [403, 'Blocked'], 'the body was read and judged');
  assert.deepEqual(seen, [clean], 'the refused body never reached the app');
});

test('under a checkContinue listener, with no rule that reads bodies, a refused request is answered at once: no 100, no upload', async () => {
  // (With a body rule loaded, the body is read before any decision, so the 100 is said first.)
  const { port, seen } = await server(true, { block: { paths: ['/admin'] } });
  const refused = await post(port, '/admin', clean);
  assert.deepEqual([refused.status, refused.body, refused.continued], [403, 'Blocked', 0]);
  const fine = await post(port, '/form', clean);
  assert.deepEqual([fine.status, fine.body], [200, `read ${clean.length}`], 'the app says 100 for a request that goes on');
  assert.deepEqual(seen, [clean]);
});

test('without a checkContinue listener Node says 100 itself, once, and Moat judges as before', async () => {
  const { port, seen } = await server(false);
  const fine = await post(port, '/form', clean);
  assert.deepEqual([fine.status, fine.body, fine.continued], [200, `read ${clean.length}`, 1]);
  const refused = await post(port, '/form', attack);
  assert.deepEqual([refused.status, refused.continued], [403, 1]);
  assert.deepEqual(seen, [clean]);
});
