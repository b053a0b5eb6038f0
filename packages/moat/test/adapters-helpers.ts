// Shared by the http/adapters/firewall tests: real rule files in temp dirs, and a raw-socket HTTP client
// so tests control the exact bytes (HTTP clients normalise paths; attackers do not).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { writeRulesFile } from '../src/format/write-rules.js';
import { parseRulesSource } from '../src/rules/document.js';

/** Writes a rules document to a real rules file in a fresh temp dir; returns its path and a cleanup. */
export function rulesFile(document: object): { path: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-test-'));
  const path = join(dir, 'rules.moat');
  const { rules, attacks } = parseRulesSource(JSON.stringify(document));
  writeRulesFile(rules, path, attacks === null ? {} : { attacks });
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A firewall (logger off) on a rules file written from `document`; both are closed and removed when the
 * test file's `after` hooks run.
 */
export function firewallOn(document: object, options: MoatOptions = {}): Firewall {
  const file = rulesFile(document);
  const firewall = createFirewall({ rules: file.path, logger: false, ...options });
  after(() => {
    firewall.close();
    file.cleanup();
  });
  return firewall;
}

/** The rules most adapter tests use. */
export const STANDARD_RULES = {
  block: { paths: ['/wp-admin'], params: ['<script'], userAgents: ['evilbot'], ips: ['203.0.113.66'] },
  rateLimits: [{ path: '/login', method: 'POST', limit: 2, window: '60s' }],
};

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
}

function decodeChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  for (let guard = 0; guard < 100_000 && i < body.length; guard++) {
    const lineEnd = body.indexOf('\r\n', i);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(i, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    i = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Sends `bytes` as they are on a new connection to host:port and reads the whole response. The client
 * half-closes after writing unless `halfClose` is false: Node's http server (without httpAllowHalfOpen)
 * drops a half-closed request whose answer is asynchronous, as a meta-framework's is; then the
 * connection stays open until the server closes it (`Connection: close`).
 */
export function rawRequest(port: number, bytes: string | Buffer, host = '127.0.0.1', halfClose = true): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    const chunks: Buffer[] = [];
    socket.setTimeout(60_000, () => socket.destroy(new Error('timeout'))); // idle guard only
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no response head: ${raw.toString('latin1').slice(0, 200)}`));
      const [statusLine, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body: Buffer = raw.subarray(split + 4);
      if (headers['transfer-encoding'] === 'chunked') body = decodeChunked(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') });
    });
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

/**
 * What Bun passes a fetch handler as its second argument (`server.requestIP(request)`), answered from
 * @hono/node-server's real socket: a handler given this cannot reach the IncomingMessage, so Moat
 * judges the Web Request, as on Bun and Deno.
 */
export function bunStyleServer(env: unknown): { requestIP(request: Request): { address: string } } {
  const address = (env as { incoming: { socket: { remoteAddress?: string } } }).incoming.socket.remoteAddress ?? '';
  return { requestIP: () => ({ address }) };
}

export interface RequestSpec {
  method?: string;
  /** Sent exactly as given. */
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Connect to this address (default 127.0.0.1). */
  host?: string;
}

/** An HTTP/1.1 request with Connection: close, built byte for byte. */
export function send(port: number, spec: RequestSpec = {}, halfClose = true): Promise<RawResponse> {
  const method = spec.method ?? 'GET';
  const headers: Record<string, string> = { host: 'example.test', connection: 'close', ...spec.headers };
  const body = spec.body === undefined ? undefined : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body);
  if (body !== undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(body.length);
  let head = `${method} ${spec.path ?? '/'} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const bytes = Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
  return rawRequest(port, bytes, spec.host, halfClose);
}

/** A form body big enough to arrive in several chunks, with a marker at the end. */
export function bigForm(fields: number): string {
  const parts: string[] = [];
  for (let i = 0; i < fields; i++) parts.push(`field${i}=${'v'.repeat(50)}%20${i}`);
  parts.push('last=the+end');
  return parts.join('&');
}

// ---------------------------------------------------------------------------------------------------
// The behaviour every adapter must show, run against each real framework on a real socket. A test file
// per framework calls adapterConformance() with a function that starts its app.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../src/engine/engine.js';
import { createFirewall, type Firewall } from '../src/firewall/firewall.js';
import type { FirewallEngine, MoatErrorEvent, MoatOptions } from '../src/firewall/options.js';
import type { Decision } from '../src/engine/decision.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';

/**
 * Starts the framework's app protected by `firewall`, on 127.0.0.1 port 0, and returns the port.
 * The app must answer: `GET <anything>` → 200 `hello`; `POST /login` → 200 `ok`; `POST /form` with an
 * urlencoded body → 200 and the JSON of the fields as the FRAMEWORK's own body parser read them.
 * It registers its own cleanup with after().
 */
export type StartApp = (firewall: Firewall) => Promise<number>;

/** An urlencoded form of `fields` fields with values of `valueLength` characters, ending with `last=the end`. */
export function formOf(fields: number, valueLength: number): { body: string; fields: Record<string, string> } {
  const parts: string[] = [];
  for (let i = 0; i < fields; i++) parts.push(`f${i}=${'v'.repeat(valueLength)}%20${i}%C3%BC`);
  parts.push('last=the+end');
  const body = parts.join('&');
  return { body, fields: Object.fromEntries(new URLSearchParams(body)) };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export interface Harness {
  port: number;
  firewall: Firewall;
  decisions: { decision: Decision; request: MoatHttpRequest }[];
  errors: MoatErrorEvent[];
}

/** A firewall on the standard rules (unless options say otherwise) recording decisions and errors. */
export async function harness(start: StartApp, rulesPath: string, options: MoatOptions = {}): Promise<Harness> {
  const decisions: Harness['decisions'] = [];
  const errors: MoatErrorEvent[] = [];
  const firewall = createFirewall({
    rules: rulesPath, logger: false, ...options,
    onDecision: (decision, request) => decisions.push({ decision, request }),
    onError: (event) => errors.push(event),
  });
  after(() => firewall.close());
  const port = await start(firewall);
  return { port, firewall, decisions, errors };
}

/** A real engine on `rulesPath` that throws for the path /boom (fault injection, not a mock). */
export function engineBrokenOnBoom(rulesPath: string): FirewallEngine {
  const real = Engine.open({ rules: rulesPath });
  after(() => real.close());
  return {
    rules: real.rules,
    evaluate: (request) => {
      if (request.path === '/boom') throw new Error('engine broke');
      return real.evaluate(request);
    },
  };
}

export function adapterConformance(name: string, start: StartApp): void {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());

  test(`${name}: a blocked path answers 403 Blocked, evasions too; an ordinary request reaches the app`, async () => {
    const h = await harness(start, rules.path);
    for (const path of ['/wp-admin', '//WP-Admin/x', '/%77p-admin', '/./x/../wp-admin']) {
      const res = await send(h.port, { path });
      assert.equal(res.status, 403, path);
      assert.equal(res.body, 'Blocked');
    }
    const ok = await send(h.port, { path: '/hello?x=1' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'hello');
    assert.equal(h.decisions.at(-1)!.decision.treatment, 'Passed');
    assert.equal(h.decisions.at(-1)!.request.ip, '127.0.0.1');
    assert.deepEqual([h.firewall.stats().blocked, h.firewall.stats().passed], [4, 1]);
  });

  test(`${name}: a rate-limited client gets 429 with Retry-After, and is let through after the window`, async () => {
    let clock = Date.UTC(2026, 10, 25, 12);
    const h = await harness(start, rules.path, { now: () => clock });
    const login = () => send(h.port, { method: 'POST', path: '/login', body: '' });
    assert.equal((await login()).status, 200);
    assert.equal((await login()).status, 200);
    const limited = await login();
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After: ${limited.headers['retry-after']}`);
    assert.equal(h.decisions.at(-1)!.decision.category, 'brl');
    assert.equal(h.firewall.stats().rateLimited, 1);
    // Half the wait is not enough; the full wait is.
    clock += (retryAfter * 1000) / 2;
    assert.equal((await login()).status, 429);
    clock += (retryAfter * 1000) / 2 + 1;
    const again = await login();
    assert.equal(again.status, 200);
    assert.equal(again.body, 'ok');
  });

  test(`${name}: a form with a blocked parameter is refused; clean forms reach the app's own parser intact`, async () => {
    const h = await harness(start, rules.path);
    const bad = await send(h.port, { method: 'POST', path: '/form', headers: FORM, body: 'name=x&bio=%3CSCRIPT%3Ealert(1)' });
    assert.equal(bad.status, 403);
    assert.equal(h.decisions.at(-1)!.decision.category, 'bparam');

    const small = formOf(3, 5);
    const res = await send(h.port, { method: 'POST', path: '/form', headers: FORM, body: small.body });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), small.fields);
    assert.match(h.decisions.at(-1)!.request.params ?? '', /f2=vvvvv 2ü&last=the end$/);

    // Longer than Moat's 64 KiB read limit: judged on its start, delivered whole to the framework.
    const big = formOf(800, 90);
    assert.ok(big.body.length > 64 * 1024 && big.body.length < 100_000);
    const bigRes = await send(h.port, { method: 'POST', path: '/form', headers: FORM, body: big.body });
    assert.equal(bigRes.status, 200, bigRes.body.slice(0, 200));
    assert.deepEqual(JSON.parse(bigRes.body), big.fields);

    // Chunked, without a length.
    const head = 'POST /form HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\n' +
      'transfer-encoding: chunked\r\n\r\n';
    const half = small.body.length >> 1;
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
    const chunked = await rawRequest(h.port, head + chunk(small.body.slice(0, half)) + chunk(small.body.slice(half)) + '0\r\n\r\n');
    assert.equal(chunked.status, 200);
    assert.deepEqual(JSON.parse(chunked.body), small.fields);
    const stats = h.firewall.stats();
    assert.equal(stats.bodiesInspected, 4);
    assert.equal(stats.bodiesTruncated, 1);
  });

  test(`${name}: an engine error fails open and is counted; failClosed answers 503`, async () => {
    const open = await harness(start, rules.path, { engine: engineBrokenOnBoom(rules.path) });
    const res = await send(open.port, { path: '/boom' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello');
    assert.equal((await send(open.port, { path: '/wp-admin' })).status, 403, 'the engine still judges other requests');
    const stats = open.firewall.stats();
    assert.deepEqual([stats.engineErrors, stats.failedOpen], [1, 1]);
    assert.equal(open.errors.length, 1);
    assert.equal(open.errors[0].kind, 'engine');
    assert.equal(open.errors[0].request?.path, '/boom');

    const closed = await harness(start, rules.path, { engine: engineBrokenOnBoom(rules.path), failClosed: true });
    const refused = await send(closed.port, { path: '/boom' });
    assert.equal(refused.status, 503);
    assert.equal(closed.firewall.stats().failedClosed, 1);
    assert.equal((await send(closed.port, { path: '/fine' })).status, 200);
  });

  test(`${name}: a missing rules file is an error event; the app keeps running (open, or 503 with failClosed)`, async () => {
    const missing = join(rules.dir, 'no-such-rules.moat');
    const open = await harness(start, missing);
    assert.equal(open.errors[0]?.kind, 'startup');
    assert.equal((await send(open.port, { path: '/wp-admin' })).status, 200);
    assert.equal(open.firewall.stats().noEngine, 1);
    const closed = await harness(start, missing, { failClosed: true });
    assert.equal((await send(closed.port, { path: '/hello' })).status, 503);
  });

  test(`${name}: the client IP comes from the socket, and from forwarding headers only behind a trusted proxy`, async () => {
    const untrusted = await harness(start, rules.path);
    assert.equal((await send(untrusted.port, { headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 200);
    assert.equal(untrusted.decisions.at(-1)!.request.ipSource, 'socket');
    const trusted = await harness(start, rules.path, { trustedProxies: ['loopback'] });
    assert.equal((await send(trusted.port, { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.66' } })).status, 403);
    assert.equal(trusted.decisions.at(-1)!.request.ip, '203.0.113.66');
    assert.equal(trusted.decisions.at(-1)!.request.ipSource, 'x-forwarded-for');
  });
}
