// A body smuggled into a GET or HEAD on the Web path. Moat does not ask a GET's or HEAD's Request for
// its body headers on Node, Bun and Deno (two Headers.get() calls saved per request), because none of
// their servers hands such a Request a body, whatever the client sends: proven here on each, with a
// Content-Length body and a chunked one, on real sockets. Where a method in another spelling does get
// its body (Deno keeps `get` as sent), or another method may carry one (OPTIONS), the body is still judged.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { H3, toNodeHandler } from 'h3';
import { withMoatFetch } from '../../src/adapters/web.js';
import { STANDARD_RULES, bunStyleServer, close, listen, rulesFile, send, type RequestSpec } from '../adapters-helpers.js';
import { guardedFirewall } from '../helpers/web-on-node-server.js';
import { ROOT } from '../helpers/web-runtime-conformance.js';

const require = createRequire(import.meta.url);
const BUN = join(dirname(require.resolve('bun/package.json')), 'bin', 'bun.exe');
const DENO = join(dirname(require.resolve('deno/package.json')), 'deno');
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SMUGGLED = 'q=%3Cscript%3Ealert(1)%3C%2Fscript%3E';

/** The same smuggled form body, framed by Content-Length and by chunked transfer coding. */
function smuggling(method: string): RequestSpec[] {
  return [
    { method, path: '/search', headers: FORM, body: SMUGGLED },
    { method, path: '/search', headers: { ...FORM, 'transfer-encoding': 'chunked' }, body: `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n` },
  ];
}

/** What the app's Request held: `x-body` is `<body is null>|<text read>` (a header, so HEAD answers show it too). */
async function bodySeen(request: Request): Promise<Response> {
  const none = request.body === null;
  const text = await request.text().catch((error: Error) => `error ${error.message}`);
  return new Response('seen', { headers: { 'x-body': `${none}|${encodeURIComponent(text)}` } });
}

const BODY_SEEN_SCRIPT = `
async function bodySeen(request) {
  const none = request.body === null;
  const text = await request.text().catch((error) => 'error ' + error.message);
  return new Response('seen', { headers: { 'x-body': none + '|' + encodeURIComponent(text) } });
}`;

const dir = mkdtempSync(join(tmpdir(), 'moat-get-body-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `command args` and resolves the port it prints as `port <n>`. */
function startChild(command: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => { child.kill(); });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /(?:port |127\.0\.0\.1:)(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}):\n${output}`)));
  });
}

const servers: Record<string, () => Promise<number>> = {
  '@hono/node-server': async () => {
    const server = createAdaptorServer({ fetch: bodySeen }) as Server;
    after(() => close(server));
    return listen(server);
  },
  'h3 2 (srvx on Node)': async () => {
    const app = new H3();
    app.all('/**', (event) => bodySeen(event.req));
    const server = createServer(toNodeHandler(app));
    after(() => close(server));
    return listen(server);
  },
  'Bun.serve': () => {
    const script = join(dir, 'bun-body-seen.ts');
    writeFileSync(script, `${BODY_SEEN_SCRIPT}\nconst server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: bodySeen });\nconsole.log('port ' + server.port);\n`);
    return startChild(BUN, [script]);
  },
  'Deno.serve': () => {
    const script = join(dir, 'deno-body-seen.ts');
    writeFileSync(script, `${BODY_SEEN_SCRIPT}\nDeno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log('port ' + port) }, bodySeen);\n`);
    return startChild(DENO, ['run', '--allow-net=127.0.0.1', script]);
  },
};

test('Node\'s own Request refuses a body on GET and HEAD, so no fetch handler on Node is given one that way', () => {
  for (const method of ['GET', 'HEAD', 'get', 'head']) {
    assert.throws(() => new Request('http://example.test/search', { method, headers: FORM, body: SMUGGLED }), TypeError, method);
  }
  // OPTIONS may carry one: the body's headers are read for it.
  assert.equal(new Request('http://example.test/', { method: 'OPTIONS', body: SMUGGLED }).body === null, false);
});

for (const [name, start] of Object.entries(servers)) {
  test(`${name}: a GET or HEAD smuggling a form body (Content-Length or chunked) reaches the app with no body; OPTIONS gets its body`, async () => {
    const port = await start();
    for (const method of ['GET', 'HEAD']) {
      for (const spec of smuggling(method)) {
        const res = await send(port, spec);
        assert.equal(res.status, 200, `${method} ${spec.headers?.['transfer-encoding'] ?? 'length'}`);
        assert.equal(res.headers['x-body'], 'true|', `${method} ${spec.headers?.['transfer-encoding'] ?? 'length'}`);
      }
    }
    // The probe itself can see a body: the same bytes on OPTIONS arrive whole.
    const [options] = smuggling('OPTIONS');
    assert.equal((await send(port, options!)).headers['x-body'], `false|${encodeURIComponent(SMUGGLED)}`);
  });
}

test('Web path: a GET smuggling `<script` in a form body passes (no app gets it) without Moat asking for its body headers; OPTIONS and POST with it are blocked', async () => {
  const firewall = guardedFirewall(STANDARD_RULES);
  const guarded = withMoatFetch<[unknown]>(bodySeen, firewall);
  const reads: string[][] = [];
  const server = createAdaptorServer({
    fetch: (request: Request, env: unknown) => {
      const names: string[] = [];
      reads.push(names);
      const headers = request.headers;
      const get = headers.get.bind(headers);
      Object.defineProperty(headers, 'get', { value: (name: string) => { names.push(name.toLowerCase()); return get(name); } });
      // A Bun-style server: the IncomingMessage is out of reach, so this is the Web path, as on Bun and Deno.
      return guarded(request, bunStyleServer(env));
    },
  }) as Server;
  after(() => close(server));
  const port = await listen(server);
  for (const spec of [...smuggling('GET'), ...smuggling('HEAD')]) {
    const res = await send(port, spec);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-body'], 'true|');
  }
  for (const names of reads) {
    assert.ok(!names.includes('content-type') && !names.includes('content-length'), names.join(','));
    assert.ok(names.includes('user-agent') || names.includes('host'), names.join(','));
  }
  for (const method of ['OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const spec of smuggling(method)) {
      const res = await send(port, spec);
      assert.equal(res.status, 403, `${method} ${spec.headers?.['transfer-encoding'] ?? 'length'}`);
    }
  }
  assert.equal(firewall.stats().bodiesInspected, 10);
});

test('Deno: `get` in lower case smuggling `<script` in a form body is blocked, since Deno hands that request its body', async () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const port = await startChild(DENO, ['run', '--allow-read', '--allow-env', '--allow-net=127.0.0.1', '--allow-sys', '--config', 'examples/deno/deno.json',
    'examples/deno/server.ts'], { MOAT_RULES: rules.path });
  for (const spec of smuggling('get')) {
    const res = await send(port, spec);
    assert.equal(res.status, 403, spec.headers?.['transfer-encoding'] ?? 'length');
    assert.equal(res.body, 'Blocked');
  }
  // The same bytes as a GET: Deno gives the app no body, so nothing reaches it to block.
  assert.equal((await send(port, smuggling('GET')[0]!)).body, 'hello');
});
