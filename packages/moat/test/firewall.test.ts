// The framework-agnostic core: start-up failures, fail open / closed, hooks, and what it logs (through
// a real pino logger), on a real node:http server.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { withMoat } from '../src/adapters/node.js';
import { createFirewall, type Firewall } from '../src/firewall/firewall.js';
import type { MoatErrorEvent, MoatOptions } from '../src/firewall/options.js';
import { FORWARDING_LOOK_EVERY, ForwardingWatch } from '../src/firewall/address-warnings.js';
import { FORWARDING_HEADERS, type ForwardingHeader } from '../src/http/client-address.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import { STANDARD_RULES, close, engineBrokenOnBoom, listen, rulesFile, send } from './adapters-helpers.js';

const rules = rulesFile(STANDARD_RULES);
after(() => rules.cleanup());

interface LogLine { level: number; msg: string; [key: string]: unknown }

/** A real pino logger writing JSON lines into an array. */
function recordingPino(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine); } });
  return { logger, lines };
}

function hello(_req: IncomingMessage, res: ServerResponse): void {
  res.end('hello');
}

async function serve(options: MoatOptions): Promise<{ port: number; firewall: Firewall; errors: MoatErrorEvent[] }> {
  const errors: MoatErrorEvent[] = [];
  const handler = withMoat(hello, { rules: rules.path, onError: (e) => errors.push(e), ...options });
  after(() => handler.firewall.close());
  const server = createServer(handler);
  const port = await listen(server);
  after(() => close(server));
  return { port, firewall: handler.firewall, errors };
}

test('a missing or corrupt rules file is an error event and one log line, not a crash', async () => {
  const corrupt = join(rules.dir, 'corrupt.moat');
  writeFileSync(corrupt, Buffer.from('SQLite format 3\0 but not really'.repeat(40)));
  for (const path of [join(rules.dir, 'missing.moat'), corrupt]) {
    const { logger, lines } = recordingPino();
    const { port, firewall, errors } = await serve({ rules: path, logger });
    assert.equal(errors.length, 1, path);
    assert.equal(errors[0].kind, 'startup');
    assert.ok(errors[0].error instanceof Error);
    assert.equal(firewall.currentEngine, null);
    for (let i = 0; i < 5; i++) assert.equal((await send(port, { path: '/wp-admin' })).body, 'hello');
    const stats = firewall.stats();
    assert.deepEqual([stats.requests, stats.noEngine, stats.failedOpen], [5, 5, 5]);
    assert.equal(lines.length, 1, 'one line at start-up, none per request');
    assert.equal(lines[0].level, 50);
    assert.match(lines[0].msg, /could not load its rules.*failing open/);
    assert.ok((lines[0].err as { message?: string }).message, 'pino serialised the error');
  }
});

test('with failClosed a missing rules file answers 503 until an engine is set', async () => {
  const { port, firewall } = await serve({ rules: join(rules.dir, 'missing.moat'), failClosed: true, logger: false });
  const res = await send(port);
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '1');
  const { Engine } = await import('../src/engine/engine.js');
  const engine = Engine.open({ rules: rules.path });
  after(() => engine.close());
  assert.equal(firewall.setEngine(engine), null);
  assert.equal((await send(port)).status, 200);
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
});

test('engine errors are logged at most once per interval, with how many were suppressed', async () => {
  let clock = 1_000_000;
  const { logger, lines } = recordingPino();
  const { port, firewall, errors } = await serve({ engine: engineBrokenOnBoom(rules.path), logger, now: () => clock, logIntervalMs: 60_000 });
  for (let i = 0; i < 20; i++) assert.equal((await send(port, { path: '/boom' })).status, 200);
  assert.equal(errors.length, 20, 'listeners hear every error');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, 50);
  assert.equal(lines[0].suppressed, 0);
  assert.deepEqual(lines[0].request, { method: 'GET', path: '/boom', ip: '127.0.0.1' });
  clock += 60_000;
  await send(port, { path: '/boom' });
  assert.equal(lines.length, 2);
  assert.equal(lines[1].suppressed, 19);
  assert.equal(firewall.stats().engineErrors, 21);
  assert.equal(firewall.stats().failedOpen, 21);
});

test('no log line per request by default: blocked, passed and rate-limited requests stay quiet', async () => {
  const { logger, lines } = recordingPino();
  const { port } = await serve({ logger, trustedProxies: [] });
  for (let i = 0; i < 10; i++) {
    await send(port, { path: i % 2 ? '/wp-admin' : '/x' });
    await send(port, { method: 'POST', path: '/login', body: '' });
  }
  assert.deepEqual(lines, []);
});

test('forwarding headers from an untrusted peer with no proxy configured: a warning at a bounded rate, looked for on one request in FORWARDING_LOOK_EVERY', async () => {
  let clock = 5_000_000;
  const { logger, lines } = recordingPino();
  const { port } = await serve({ logger, now: () => clock, logIntervalMs: 1000 });
  const forwarded = (i: number) => ({ headers: { 'x-forwarded-for': `198.51.100.${i % 250}` } });
  await send(port); // request 1: looked at
  assert.equal(lines.length, 0, 'no forwarding header, no warning');
  // Requests 2 to FORWARDING_LOOK_EVERY are not looked at; the next one is.
  for (let i = 1; i < FORWARDING_LOOK_EVERY; i++) await send(port, forwarded(i));
  assert.equal(lines.length, 0, 'between two looks no header is read');
  await send(port, forwarded(0));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, 40);
  assert.equal(lines[0].header, 'x-forwarded-for');
  assert.equal(lines[0].peer, '127.0.0.1');
  assert.match(lines[0].msg, /trustedProxies/);
  for (let i = 0; i < 2 * FORWARDING_LOOK_EVERY; i++) await send(port, forwarded(i));
  assert.equal(lines.length, 1, 'at most one warning per interval');
  clock += 10_000; // ten log intervals
  // A proxied deployment is warned again within FORWARDING_LOOK_EVERY requests after the interval.
  for (let i = 0; i < FORWARDING_LOOK_EVERY; i++) await send(port, { headers: { 'cf-connecting-ip': '198.51.100.1' } });
  assert.equal(lines.length, 2);
  assert.equal(lines[1].header, 'cf-connecting-ip');

  // Once proxies are configured (even as "none", or through the environment), nothing is said.
  for (const options of [{ trustedProxies: [] }, { env: { TRUSTED_PROXY_RANGES: '10.0.0.0/8' } }] as MoatOptions[]) {
    const quiet = recordingPino();
    const s = await serve({ logger: quiet.logger, ...options });
    await send(s.port, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    assert.equal(quiet.lines.length, 0);
  }
});

test('the forwarding watch reads the forwarding headers of one request in FORWARDING_LOOK_EVERY, and warns on the first one that carries one', () => {
  let clock = 0;
  const warnings: string[] = [];
  const watch = new ForwardingWatch({ error: () => {}, warn: (_o, message) => { warnings.push(message ?? ''); } }, () => clock, 10_000);
  let reads = 0;
  const counted = (headers: Record<string, string>) => new Proxy(headers, {
    get: (target, name) => { if (typeof name === 'string' && FORWARDING_HEADERS.includes(name as ForwardingHeader)) reads++; return target[name as string]; },
  });
  const request = (headers: Record<string, string>) => ({ ip: '192.0.2.1', headers: counted(headers) }) as unknown as MoatHttpRequest;
  const requests = 100 * FORWARDING_LOOK_EVERY;
  for (let i = 0; i < requests; i++) watch.watchForForwardingHeaders(request({ host: 'example.test' }));
  // Every header name is read on a look that finds none.
  assert.equal(reads, 100 * FORWARDING_HEADERS.length);
  assert.deepEqual(warnings, []);

  // Traffic where every other request comes through a proxy: the prime stride reaches both kinds.
  let sent = 0;
  while (warnings.length === 0 && sent < 4 * FORWARDING_LOOK_EVERY) {
    watch.watchForForwardingHeaders(request(sent % 2 === 0 ? { host: 'example.test' } : { 'x-real-ip': '198.51.100.9' }));
    sent++;
  }
  assert.equal(warnings.length, 1);
  assert.ok(sent <= 2 * FORWARDING_LOOK_EVERY, `warned after ${sent} requests`);
  assert.match(warnings[0]!, /carries x-real-ip, but no proxy is trusted/);
  clock += 9_999;
  for (let i = 0; i < 4 * FORWARDING_LOOK_EVERY; i++) watch.watchForForwardingHeaders(request({ 'x-real-ip': '198.51.100.9' }));
  assert.equal(warnings.length, 1, 'one warning per interval');
  clock += 1;
  for (let i = 0; i < FORWARDING_LOOK_EVERY; i++) watch.watchForForwardingHeaders(request({ 'x-real-ip': '198.51.100.9' }));
  assert.equal(warnings.length, 2, 'warned again within FORWARDING_LOOK_EVERY requests after the interval');
});

test('TRUSTED_PROXY_RANGES adds to trustedProxies and accepts presets; a bad entry is a clear error', () => {
  const firewall = createFirewall({ engine: { evaluate: () => { throw new Error('unused'); } }, trustedProxies: ['10.0.0.0/8'], env: { TRUSTED_PROXY_RANGES: ' 2001:db8::/32 , loopback' } });
  assert.ok(firewall.trustedProxies.has('10.1.1.1'));
  assert.ok(firewall.trustedProxies.has('2001:db8::1'));
  assert.ok(firewall.trustedProxies.has('127.0.0.1'));
  assert.ok(!firewall.trustedProxies.has('192.168.0.1'));
  assert.throws(() => createFirewall({ logger: false, env: { TRUSTED_PROXY_RANGES: '10.0.0.0/8,nonsense' } }), /trusted proxy "nonsense"/);
});

test('onDecision sees every judged request with the IP source; a throwing hook is counted and the request goes on', async () => {
  const seen: string[] = [];
  const { logger, lines } = recordingPino();
  const { port, firewall, errors } = await serve({
    logger, trustedProxies: ['loopback'], ipHeader: 'x-real-ip',
    onDecision: (decision, request) => {
      seen.push(`${decision.category} ${request.ip} ${request.ipSource}`);
      if (request.path === '/hook-breaks') throw new Error('hook broke');
    },
  });
  await send(port, { path: '/wp-admin' });
  await send(port, { headers: { 'x-real-ip': '2001:db8::1' } });
  assert.equal((await send(port, { path: '/hook-breaks' })).body, 'hello');
  assert.deepEqual(seen, ['bp 127.0.0.1 proxy', 'passed 2001:db8::1 x-real-ip', 'passed 127.0.0.1 proxy'], 'the proxy\'s own address, its header absent');
  assert.equal(firewall.stats().hookErrors, 1);
  assert.equal(errors.at(-1)!.kind, 'hook');
  assert.equal(lines.length, 1);
  assert.match(lines[0].msg, /hook threw/);
});

test('a custom response handler that throws falls back to the default answer', async () => {
  const { port, firewall } = await serve({ logger: false, blocked: () => { throw new Error('bad handler'); } });
  const res = await send(port, { path: '/wp-admin' });
  assert.equal(res.status, 403);
  assert.equal(res.body, 'Blocked');
  assert.equal(firewall.stats().hookErrors, 1);
});

test('JSON bodies: read only when opted in, cut at the size cap, always delivered whole', async () => {
  const handler = withMoat((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(String(Buffer.concat(chunks).length)));
  }, { rules: rules.path, logger: false, body: { json: true, limit: 1024 } });
  after(() => handler.firewall.close());
  const server = createServer(handler);
  const port = await listen(server);
  after(() => close(server));
  const json = { 'content-type': 'application/json' };
  // The cap: a bad value past the first KiB is not seen (judged on the raw start), the body still arrives.
  const long = JSON.stringify({ pad: 'x'.repeat(2000), bio: '<script>' });
  const res = await send(port, { method: 'POST', headers: json, body: long });
  assert.equal(res.status, 200);
  assert.equal(res.body, String(long.length));
  assert.equal(handler.firewall.stats().bodiesTruncated, 1);
  // Within the cap, escapes cannot hide it.
  assert.equal((await send(port, { method: 'POST', headers: json, body: '{"bio":"\\u003cscript>"}' })).status, 403);
  // Malformed JSON is inspected as text and never throws.
  assert.equal((await send(port, { method: 'POST', headers: json, body: '{"bio": <script' })).status, 403);
  assert.equal((await send(port, { method: 'POST', headers: json, body: '{"bio": "\xff\xfe' })).status, 200);
  assert.equal(handler.firewall.stats().engineErrors, 0);
});

test('a body something already read is not judged but counted as unreadable; the app still gets it', async () => {
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  // The app reads the whole body before asking Moat, as a body parser mounted first would.
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const verdict = firewall.check(req);
      if (verdict instanceof Promise) throw new Error('nothing left to read, so no promise');
      res.statusCode = verdict?.status ?? 200;
      res.end(Buffer.concat(chunks).toString());
    });
  });
  const port = await listen(server);
  after(() => close(server));
  const res = await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%3Cscript' });
  assert.deepEqual([res.status, res.body], [200, 'a=%3Cscript']);
  const stats = firewall.stats();
  assert.deepEqual([stats.bodiesInspected, stats.bodiesUninspected.unreadable], [0, 1]);
});
