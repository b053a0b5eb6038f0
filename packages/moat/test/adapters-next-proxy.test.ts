// Next.js 16 proxy.ts with plain `next start` (no custom server): the example app in examples/next is
// copied to a git-ignored temp folder, built with `next build` (telemetry off) and started three times
// on real sockets: with the test rules, with a missing rules file, and behind a trusted proxy. The
// shared conformance set runs against it through raw sockets, then the attacks a proxy.ts setup invites.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_RULES, bigForm, formOf, rawRequest, rulesFile, send } from './adapters-helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(root, 'examples/next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

// The standard rules, and ::1 blocked: a request from ::1 is refused only if the proxy sees the socket.
const rules = rulesFile({ ...STANDARD_RULES, block: { ...STANDARD_RULES.block, ips: ['203.0.113.66', '::1'] } });
after(() => rules.cleanup());

let appDir = '';
let main = 0;
let failOpen = 0;
let behindProxy = 0;
const children: ChildProcess[] = [];
// Registered here, not inside before(): a hook's own after() would run as soon as before() ends.
after(() => {
  for (const child of children) child.kill();
  if (appDir !== '') rmSync(appDir, { recursive: true, force: true });
});

/** `next start` on [::] (IPv4 and IPv6), port chosen by the system; resolves with the port it prints. */
function nextStart(extraEnv: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [nextBin, 'start', appDir, '-H', '::', '-p', '0'], {
    // The documented start: the preload lets Moat see the connection of requests that arrive while Next starts.
    cwd: root, env: { ...env, NODE_OPTIONS: '--import moat-waf/adapters/next-preload', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Local:\s+http:\/\/\S+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`next start exited (${code}):\n${output}`)));
  });
}

before(async () => {
  // Next loads moat-waf from packages/moat/dist, so it must match the sources under test.
  spawnSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-b', 'packages/moat'], { cwd: root });
  assert.ok(existsSync(join(root, 'packages/moat/dist/adapters/next-proxy.js')), 'packages/moat/dist is not built');
  // Two levels below the repository root, like examples/next, so its config and module resolution hold.
  mkdirSync(join(root, 'tmp'), { recursive: true });
  appDir = mkdtempSync(join(root, 'tmp', 'next-proxy-'));
  cpSync(example, appDir, { recursive: true, filter: (src) => !/[\\/](\.next|next-env\.d\.ts|rules\.moat)$/.test(src) });
  const build = spawnSync(process.execPath, [nextBin, 'build', appDir], { cwd: root, env, encoding: 'utf8', timeout: 900_000 });
  assert.equal(build.status, 0, `next build failed:\n${build.stdout}\n${build.stderr}`);
  [main, failOpen, behindProxy] = await Promise.all([
    nextStart({ MOAT_RULES: rules.path }),
    nextStart({ MOAT_RULES: join(rules.dir, 'no-such-rules.moat') }),
    nextStart({ MOAT_RULES: rules.path, TRUSTED_PROXY_RANGES: '127.0.0.1' }),
  ]);
}, { timeout: 1_200_000 });

test('next proxy: the first request a fresh server gets, sent as soon as its port is open, from a blocked address, is refused', async () => {
  // Not the raw client: it half-closes, and Node drops a half-closed request whose answer takes a while (Next loading proxy.ts).
  const get = (host: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host, port: main, path: '/hello' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
  assert.deepEqual(await get('::1'), { status: 403, body: 'Blocked' });
  assert.deepEqual(await get('127.0.0.1'), { status: 200, body: 'hello' });
});

test('next proxy: a blocked path answers 403 Blocked, evasions too; an ordinary request reaches the route', async () => {
  for (const path of ['/wp-admin', '//WP-Admin/x', '/%77p-admin', '/./x/../wp-admin', '/hello/..%2fwp-admin', '/wp-admin/']) {
    let res = await send(main, { path });
    // Next redirects `//x` and `/x/` (308) before any proxy runs; the request that follows is judged.
    if (res.status === 308) res = await send(main, { path: new URL(res.headers.location, 'http://a').pathname });
    assert.equal(res.status, 403, path);
    assert.equal(res.body, 'Blocked', path);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  }
  const ok = await send(main, { path: '/hello?x=1' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'hello');
});

test('next proxy: the third POST /login in the window gets 429 with Retry-After (each request counted once)', async () => {
  const login = () => send(main, { method: 'POST', path: '/login', body: '' });
  assert.equal((await login()).body, 'ok');
  assert.equal((await login()).body, 'ok');
  const limited = await login();
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After: ${limited.headers['retry-after']}`);
});

test('next proxy: a form with a blocked parameter is refused; clean forms reach request.formData() intact (small, over the read limit, chunked)', async () => {
  const bad = await send(main, { method: 'POST', path: '/form', headers: FORM, body: 'name=x&bio=%3CSCRIPT%3Ealert(1)' });
  assert.equal(bad.status, 403);
  const small = formOf(3, 5);
  const res = await send(main, { method: 'POST', path: '/form', headers: FORM, body: small.body });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(JSON.parse(res.body), small.fields);
  const big = formOf(800, 90);
  assert.ok(big.body.length > 64 * 1024);
  const bigRes = await send(main, { method: 'POST', path: '/form', headers: FORM, body: big.body });
  assert.equal(bigRes.status, 200, bigRes.body.slice(0, 200));
  assert.deepEqual(JSON.parse(bigRes.body), big.fields);
  // A blocked value after the first 64 KiB is beyond what Moat reads, by design; before it, it is caught.
  const lateButInside = `${bigForm(10)}&x=%3Cscript`;
  assert.equal((await send(main, { method: 'POST', path: '/form', headers: FORM, body: lateButInside })).status, 403);
  const head = 'POST /form HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\n' +
    'transfer-encoding: chunked\r\n\r\n';
  const half = small.body.length >> 1;
  const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
  const chunked = await rawRequest(main, head + chunk(small.body.slice(0, half)) + chunk(small.body.slice(half)) + '0\r\n\r\n');
  assert.equal(chunked.status, 200);
  assert.deepEqual(JSON.parse(chunked.body), small.fields);
  const chunkedBad = await rawRequest(main, head + chunk('a=1&b=%3Cscr') + chunk('ipt%3E') + '0\r\n\r\n');
  assert.equal(chunkedBad.status, 403, 'a blocked value split across chunks');
});

test('next proxy: a missing rules file fails open; the app keeps serving', async () => {
  const res = await send(failOpen, { path: '/wp-admin' });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'wp-admin reached');
});

test('next proxy: a client forging X-Forwarded-For keeps its own address; only a trusted proxy\'s header is read', async () => {
  // Not trusted: the socket (127.0.0.1) is judged, so the blocked address in the header changes nothing…
  assert.equal((await send(main, { path: '/hello', headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 200);
  // …and a blocked client cannot claim an innocent one.
  assert.equal((await send(main, { host: '::1', path: '/hello', headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' } })).status, 403);
  // Behind a trusted proxy (127.0.0.1 here), its header names the client, read right to left.
  assert.equal((await send(behindProxy, { path: '/hello', headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.66' } })).status, 403);
  assert.equal((await send(behindProxy, { path: '/hello', headers: { 'x-forwarded-for': '203.0.113.66, 6.6.6.6' } })).status, 200);
});

test('next proxy: paths the matcher excludes (/_next/static/…, /favicon.ico) reach no route for a blocked client', async () => {
  for (const path of ['/_next/static/..%2f..%2fwp-admin', '/_next/static/x', '/_next/static/%2e%2e/%2e%2e/wp-admin', '/favicon.ico', '/_next/static/../../wp-admin']) {
    // Next may answer 4xx or drop the connection; what must not happen is a route answering.
    const res = await send(main, { host: '::1', path }).catch(() => null);
    if (res === null) continue;
    assert.notEqual(res.status, 200, `${path}: ${res.body.slice(0, 80)}`);
    assert.doesNotMatch(res.body, /wp-admin reached|^hello$/, path);
  }
});

test('next proxy: on kept-alive connections from two addresses at once, each request is judged by its own connection', async () => {
  const agents = { '::1': new Agent({ keepAlive: true, maxSockets: 2 }), '127.0.0.1': new Agent({ keepAlive: true, maxSockets: 2 }) };
  after(() => { agents['::1'].destroy(); agents['127.0.0.1'].destroy(); });
  const get = (host: '::1' | '127.0.0.1') => new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host, port: main, path: '/hello', agent: agents[host] }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); });
    req.on('error', reject);
    req.end();
  });
  const hosts = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? '::1' : '127.0.0.1') as '::1' | '127.0.0.1');
  const statuses = await Promise.all(hosts.map(get));
  assert.deepEqual(statuses, hosts.map((host) => (host === '::1' ? 403 : 200)));
});
