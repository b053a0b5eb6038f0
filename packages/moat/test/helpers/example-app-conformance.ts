// The conformance set for a meta-framework example app (examples/sveltekit, astro, react-router): the
// example is copied to a git-ignored temp folder two levels below the repository root (so it resolves the
// root node_modules, moat-waf included), built once with the framework's own build, and started three
// times as a real server: with the test rules, with a missing rules file, and behind a trusted proxy.
// Then it is attacked through raw sockets: blocked paths with evasions, the rate limit, forms, forged
// forwarding headers from a blocked address.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  STANDARD_RULES, bigForm, formOf, rawRequest as sharedRawRequest, rulesFile, send as sharedSend, type RawResponse, type RequestSpec,
} from '../adapters-helpers.js';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export interface ExampleApp {
  /** The folder under examples/. */
  example: string;
  /** Paths of build outputs and generated files, never copied from the example folder. */
  outputs: RegExp;
  /** The framework's build, run once in the copy (cwd); a command and its arguments. */
  build: (dir: string) => { command: string; args: string[]; env?: Record<string, string> };
  /** The documented start, run in the copy; must listen on HOST and PORT from the environment. */
  start: (dir: string) => { command: string; args: string[] };
  /** Printed by the server once it listens. */
  ready: RegExp;
  /** Blocked-path evasions this framework's router could act on, beyond the common ones. */
  evasions?: string[];
}

/** The bytes on a new connection that stays open until the server closes it (see rawRequest's halfClose). */
export const rawRequest = (port: number, bytes: string | Buffer, host?: string) => sharedRawRequest(port, bytes, host, false);
/** An HTTP/1.1 request with Connection: close, built byte for byte, on a connection that is not half-closed. */
export const send = (port: number, spec: RequestSpec = {}) => sharedSend(port, spec, false);

/** A port free right now on every address (the frameworks' start commands print the port they were given, not the one they got). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '::', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A redirect that only adds or removes a trailing slash (the router's canonical form) is followed once, as a browser would. */
async function sendFollowingSlashRedirect(port: number, path: string, host?: string): Promise<RawResponse> {
  const res = await send(port, { path, host });
  if (res.status !== 308 && res.status !== 301) return res;
  return send(port, { path: new URL(res.headers.location, 'http://a').pathname, host });
}

export interface ExampleServers {
  /** The example on the test rules (blocking ::1 and 203.0.113.66), with no trusted proxy. */
  main: () => number;
  /** Another server of the built example (started as `launch` says, in its folder), for tests of a fresh process. */
  start: (env: Record<string, string>, launch?: { command: string; args: string[] }) => Promise<number>;
  /** The test rules file. */
  rulesPath: string;
}

export function exampleAppConformance(name: string, app: ExampleApp): ExampleServers {
  // The standard rules, and ::1 blocked: a request from ::1 is refused only if Moat sees the socket.
  const rules = rulesFile({ ...STANDARD_RULES, block: { ...STANDARD_RULES.block, ips: ['203.0.113.66', '::1'] } });
  after(() => rules.cleanup());

  let dir = '';
  let main = 0;
  let failOpen = 0;
  let behindProxy = 0;
  const children: ChildProcess[] = [];
  // Registered here, not inside before(): a hook's own after() would run as soon as before() ends.
  after(() => {
    for (const child of children) child.kill();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  async function startServer(extraEnv: Record<string, string>, launch = app.start(dir)): Promise<number> {
    const port = await freePort();
    const { command, args } = launch;
    // On :: (IPv4 and IPv6), so requests can come from 127.0.0.1 and from the blocked ::1.
    const child = spawn(command, args, { cwd: dir, env: { ...process.env, HOST: '::', PORT: String(port), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    // Also when the test process ends without its after() hooks (killed, interrupted).
    process.once('exit', () => child.kill());
    return new Promise((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (app.ready.test(output)) resolve(port);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => reject(new Error(`${name} exited (${code}):\n${output}`)));
    });
  }

  // Not a SQLite file at all: what a truncated download or a wrong path to another file gives.
  const brokenRules = join(rules.dir, 'broken.moat');
  writeFileSync(brokenRules, 'SQLite format 3\0'.padEnd(4096, '\u00ff'));

  before(async () => {
    // The example loads moat-waf from packages/moat/dist, so it must match the sources under test.
    spawnSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-b', 'packages/moat'], { cwd: ROOT });
    assert.ok(existsSync(join(ROOT, 'packages/moat/dist/index.js')), 'packages/moat/dist is not built');
    mkdirSync(join(ROOT, 'tmp'), { recursive: true });
    dir = mkdtempSync(join(ROOT, 'tmp', `${name}-`));
    const source = join(ROOT, 'examples', app.example);
    cpSync(source, dir, { recursive: true, filter: (src) => !app.outputs.test(src.slice(source.length)) });
    const { command, args, env } = app.build(dir);
    // A guard only: builds take tens of seconds on a busy machine.
    const build = spawnSync(command, args, { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 900_000 });
    assert.equal(build.status, 0, `${name} build failed:\n${build.stdout}\n${build.stderr}`);
    [main, failOpen, behindProxy] = await Promise.all([
      startServer({ MOAT_RULES: rules.path }),
      startServer({ MOAT_RULES: brokenRules }),
      startServer({ MOAT_RULES: rules.path, TRUSTED_PROXY_RANGES: '127.0.0.1' }),
    ]);
  }, { timeout: 1_200_000 });

  test(`${name}: a blocked path answers 403 Blocked, evasions too; an ordinary request reaches the app`, async () => {
    const paths = ['/wp-admin', '//WP-Admin/x', '/%77p-admin', '/./x/../wp-admin', '/hello/..%2fwp-admin', '/wp-admin/',
      '/%2e%2e/wp-admin', '/hello/%2e%2e/WP-ADMIN', '/wp-admin%2fx', '/wp%2Dadmin', ...(app.evasions ?? [])];
    for (const path of paths) {
      const res = await sendFollowingSlashRedirect(main, path);
      assert.equal(res.status, 403, path);
      assert.equal(res.body, 'Blocked', path);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8', path);
    }
    const ok = await send(main, { path: '/hello?x=1' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'hello');
  });

  test(`${name}: the third POST /login in the window gets 429 with Retry-After`, async () => {
    const login = () => send(main, { method: 'POST', path: '/login', body: '' });
    assert.equal((await login()).body, 'ok');
    assert.equal((await login()).body, 'ok');
    const limited = await login();
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After: ${limited.headers['retry-after']}`);
  });

  test(`${name}: a form with a blocked parameter is refused; clean forms reach the framework's own parser intact (small, over the read limit, chunked)`, async () => {
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
    // Inside the first 64 KiB of a long form, a blocked value is caught.
    assert.equal((await send(main, { method: 'POST', path: '/form', headers: FORM, body: `${bigForm(10)}&x=%3Cscript` })).status, 403);
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

  test(`${name}: a broken rules file fails open, and so does a missing one; the app keeps serving`, async () => {
    const res = await send(failOpen, { path: '/wp-admin' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello');
    assert.equal((await send(failOpen, { method: 'POST', path: '/form', headers: FORM, body: 'a=%3Cscript' })).status, 200);
    const missing = await startServer({ MOAT_RULES: join(rules.dir, 'no-such-rules.moat') });
    const again = await send(missing, { path: '/wp-admin' });
    assert.equal(again.status, 200);
    assert.equal(again.body, 'hello');
  });

  test(`${name}: a client forging X-Forwarded-For keeps its own address; only a trusted proxy's header is read`, async () => {
    // Not trusted: the socket (127.0.0.1) is judged, so the blocked address in the header changes nothing…
    assert.equal((await send(main, { path: '/hello', headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 200);
    // …and a blocked client cannot claim an innocent address, whichever header it forges.
    const forgeries: Record<string, string>[] = [{ 'x-forwarded-for': '127.0.0.1' }, { 'x-forwarded-for': '127.0.0.1, 127.0.0.1' }, { 'x-real-ip': '127.0.0.1' },
      { forwarded: 'for=127.0.0.1' }, { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'localhost', 'x-forwarded-proto': 'https' }];
    for (const headers of forgeries) {
      const forged = await send(main, { host: '::1', path: '/hello', headers });
      assert.equal(forged.status, 403, JSON.stringify(headers));
      assert.equal(forged.body, 'Blocked');
    }
    // Behind a trusted proxy (127.0.0.1 here), its header names the client, read right to left.
    assert.equal((await send(behindProxy, { path: '/hello', headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.66' } })).status, 403);
    assert.equal((await send(behindProxy, { path: '/hello', headers: { 'x-forwarded-for': '203.0.113.66, 6.6.6.6' } })).status, 200);
  });

  return { main: () => main, start: startServer, rulesPath: rules.path };
}
