// The conformance set for a Web-standard runtime (Bun, Deno) whose example server runs as a child
// process: blocked paths with evasions, 429 with Retry-After, forms intact for the app, fail open, the
// client IP from the socket (trusted-proxy headers only as configured), and a rules file plus a data
// file read through the runtime's SQLite driver giving the decisions better-sqlite3 gives in this process.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.js';
import { buildDataFile } from '../../src/data/build-data.js';
import { readSources } from '../../src/data/read-sources.js';
import { STANDARD_RULES, formOf, rawRequest, rulesFile, send } from '../adapters-helpers.js';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** How to start the runtime's example server with extra environment; the server prints `listening on http://127.0.0.1:<port>`. */
export type RuntimeCommand = (env: Record<string, string>) => { command: string; args: string[] };

function startServer(name: string, command: RuntimeCommand, extraEnv: Record<string, string>): Promise<number> {
  const { command: bin, args } = command(extraEnv);
  const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, PORT: '0', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => { child.kill(); });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the ${name} example exited (${code}):\n${output}`)));
  });
}

/** Addresses spread over the fixture ranges (first, last and middle addresses) and outside them. */
const SAMPLE_IPS = [
  '1.0.0.0', '1.0.0.255', '1.0.1.7', '1.0.4.0', '2.16.0.0', '2.16.9.5', '2.16.64.1', '2.16.255.255', '2.17.0.0',
  '198.51.100.127', '198.51.100.128', '198.51.100.255', '203.0.113.51', '203.0.113.66', '3.5.140.1', '3.5.140.0',
  '13.34.37.64', '52.94.76.10', '185.220.101.1', '185.220.101.2', '104.16.0.1', '8.8.8.8', '9.9.9.9', '192.0.2.1',
  '2a02:26f0::1', '2001:db8::1', '2606:4700::1', '::1', '10.0.0.1', '100.64.0.1',
];

const DATA_RULES = {
  allow: { ips: ['2.16.9.5'] },
  block: { countries: ['BE', 'continent:OC'], asns: ['AS19281', '16625'], lists: ['tor', 'drop', 'aws'], paths: ['/wp-admin'], ips: ['203.0.113.66'] },
};

const EVIL_FORM = Buffer.from('name=x&bio=%3Cscript%3Ealert(1)');
const FORM_LINE = 'content-type: application/x-www-form-urlencoded';

/** POST /form with these header lines, as raw bytes; no half-close: a runtime may end the exchange before its answer. */
function postForm(port: number, lines: string[], body: Buffer) {
  const head = `POST /form HTTP/1.1\r\nhost: a\r\nconnection: close\r\n${lines.map((line) => `${line}\r\n`).join('')}` +
    `content-length: ${body.length}\r\n\r\n`;
  return rawRequest(port, Buffer.concat([Buffer.from(head, 'latin1'), body]), '127.0.0.1', false);
}

/**
 * `largeForms: false` leaves out the 84 KB form: Deno 2.9's Deno.serve fails now and then to read such a body
 * ("BadResource: Cannot read body as underlying resource unavailable", a 500), also when Moat does not read it.
 * `env`: more environment for every server the set starts (which server a fixture runs).
 * `contentTypeLists: false` leaves out the forms whose Content-Type is a list, which fetch's formData()
 * reads as a form: a node:http app's parser reads the first of two lines, as Node keeps it, and a list
 * on one line is no media type to it.
 */
export function webRuntimeConformance(name: string, command: RuntimeCommand,
  options: { largeForms?: boolean; env?: Record<string, string>; contentTypeLists?: boolean } = {}): void {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const start = (env: Record<string, string> = {}) => startServer(name, command, { ...options.env, MOAT_RULES: rules.path, ...env });

  test(`${name}: a blocked path answers 403 Blocked, evasions too; an ordinary request reaches the app`, async () => {
    const port = await start();
    for (const path of ['/wp-admin', '//WP-Admin/x', '/%77p-admin', '/./x/../wp-admin', '/hello/..%2fwp-admin']) {
      const res = await send(port, { path });
      assert.equal(res.status, 403, path);
      assert.equal(res.body, 'Blocked');
    }
    const ok = await send(port, { path: '/hello?x=1' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'hello');
  });

  test(`${name}: the third POST /login in the window gets 429 with Retry-After`, async () => {
    const port = await start();
    const login = () => send(port, { method: 'POST', path: '/login', body: '' });
    assert.equal((await login()).body, 'ok');
    assert.equal((await login()).body, 'ok');
    const limited = await login();
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After: ${limited.headers['retry-after']}`);
  });

  test(`${name}: a form with a blocked parameter is refused; clean forms reach request.formData() intact`, async () => {
    const port = await start();
    // Not half-closed: an app that answers after reading the body gets no chance to on a half-closed
    // connection under Deno's node:http (nor under Node's without httpAllowHalfOpen); `connection: close` ends it.
    assert.equal((await send(port, { method: 'POST', path: '/form', headers: FORM, body: 'name=x&bio=%3CSCRIPT%3Ealert(1)' }, false)).status, 403);
    const small = formOf(3, 5);
    const res = await send(port, { method: 'POST', path: '/form', headers: FORM, body: small.body }, false);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), small.fields);
    if (options.largeForms !== false) {
      const big = formOf(800, 90);
      const bigRes = await send(port, { method: 'POST', path: '/form', headers: FORM, body: big.body }, false);
      assert.equal(bigRes.status, 200, bigRes.body.slice(0, 200));
      assert.deepEqual(JSON.parse(bigRes.body), big.fields);
    }
    const head = 'POST /form HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\n' +
      'transfer-encoding: chunked\r\n\r\n';
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
    const chunkedBad = await rawRequest(port, head + chunk('a=1&b=%3Cscr') + chunk('ipt%3E') + '0\r\n\r\n', '127.0.0.1', false);
    assert.equal(chunkedBad.status, 403, 'a blocked value split across chunks');
    const half = small.body.length >> 1;
    const chunked = await rawRequest(port, head + chunk(small.body.slice(0, half)) + chunk(small.body.slice(half)) + '0\r\n\r\n', '127.0.0.1', false);
    assert.equal(chunked.status, 200);
    assert.deepEqual(JSON.parse(chunked.body), small.fields);
  });

  test(`${name}: a form the app reads as sent is judged whatever Content-Encoding says`, async () => {
    const port = await start();
    const post = (lines: string[], body: Buffer) => postForm(port, lines, body);
    const [evil, form] = [EVIL_FORM, FORM_LINE];
    // The runtime never inflates a request body: formData() parses these bytes as they came.
    for (const coding of ['gzip', 'deflate', 'br', 'x-unknown', 'gzip, identity']) {
      assert.equal((await post([form, `content-encoding: ${coding}`], evil)).status, 403, coding);
    }
    // A real gzip whose header comment holds the field: inflated it is harmless, as sent it is not.
    const clean = gzipSync('name=x');
    const comment = Buffer.from('&bio=%3Cscript%3E&\0', 'latin1');
    const commented = Buffer.concat([clean.subarray(0, 3), Buffer.from([clean[3]! | 0x10]), clean.subarray(4, 10), comment, clean.subarray(10)]);
    assert.equal((await post([form, 'content-encoding: gzip'], commented)).status, 403, 'gzip with a comment');
    assert.equal((await post([form, 'content-encoding: gzip'], clean)).status, 200, 'a harmless gzip form');
  });

  if (options.contentTypeLists !== false) test(`${name}: a form whose Content-Type is a list of media types (one line or two) is judged`, async () => {
    const port = await start();
    const post = (lines: string[], body: Buffer) => postForm(port, lines, body);
    const [evil, form] = [EVIL_FORM, FORM_LINE];
    // Fetch's formData() takes the last valid media type of the list Headers joins repeated lines into.
    assert.equal((await post(['content-type: text/plain, application/x-www-form-urlencoded'], evil)).status, 403, 'one line');
    assert.equal((await post(['content-type: text/plain', form], evil)).status, 403, 'two lines');
  });

  test(`${name}: a Host the runtime builds request.url from cannot route a request past the rate limit on /login`, async () => {
    // Deno: `http://` + Host + target (WHATWG reads `\` as `/`; Hono reads from the first `/` after `://`);
    // Bun: the bare target when the Host is not one (Hono then skips three characters).
    // An empty authority (`Host: /x` or an empty Host: `http:///x/login`) is read as `/login` by both.
    for (const [host, target] of [['a\\login?', '/'], ['a?', '/login'], ['a#', '/login'], ['a b', '/xx/login'], ['/x', '/login'], ['', '/x/login']] as const) {
      const port = await start();
      const served: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await rawRequest(port, `POST ${target} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        served.push(`${res.status}:${res.body.slice(0, 20)}`);
      }
      assert.ok(served.filter((s) => s === '200:ok').length <= 2, `Host ${host}, ${target}: ${served.join(' ')}`);
    }
  });

  test(`${name}: a missing rules file fails open; the app keeps serving`, async () => {
    const port = await start({ MOAT_RULES: join(rules.dir, 'no-such-rules.moat') });
    const res = await send(port, { path: '/wp-admin' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'hello');
  });

  test(`${name}: the client IP is the socket's; a forged X-Forwarded-For counts only from a trusted proxy`, async () => {
    const direct = await start();
    assert.equal((await send(direct, { path: '/', headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 200);
    const proxied = await start({ TRUSTED_PROXY_RANGES: '127.0.0.1' });
    assert.equal((await send(proxied, { path: '/', headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.66' } })).status, 403);
    assert.equal((await send(proxied, { path: '/', headers: { 'x-forwarded-for': '203.0.113.66, 6.6.6.6' } })).status, 200);
  });

  test(`${name}: a rules file and a data file read through the runtime's SQLite driver decide as better-sqlite3 does (memory and light)`, async () => {
    const dataRules = rulesFile(DATA_RULES);
    after(() => dataRules.cleanup());
    const data = join(dataRules.dir, 'data.moat');
    const drop = join(dataRules.dir, 'drop.txt');
    writeFileSync(drop, '198.51.100.128/25\n');
    buildDataFile(readSources({
      countries: [join(FIXTURES, 'country.csv')], asns: [join(FIXTURES, 'asn.csv')],
      lists: [{ name: 'tor', file: join(FIXTURES, 'tor-exit-addresses.txt') }, { name: 'drop', file: drop }],
      clouds: [{ name: 'aws', file: join(FIXTURES, 'aws-ip-ranges.json') }],
    }), data);
    const engine = Engine.open({ rules: dataRules.path, data });
    after(() => engine.close());
    const expected = SAMPLE_IPS.map((ip) => (engine.evaluate({ ip, method: 'GET', path: '/x', host: 'a', params: undefined, userAgent: undefined }).treatment === 'Blocked' ? 403 : 200));
    assert.ok(expected.filter((s) => s === 403).length >= 5 && expected.includes(200), `a sample that tells drivers apart: ${expected.join(' ')}`);
    for (const mode of ['memory', 'light']) {
      // The proxy on 127.0.0.1 is trusted, so each request is judged as coming from the address it names.
      const port = await start({ MOAT_RULES: dataRules.path, MOAT_DATA: data, MOAT_DATA_MODE: mode, TRUSTED_PROXY_RANGES: '127.0.0.1' });
      const statuses: number[] = [];
      for (const ip of SAMPLE_IPS) statuses.push((await send(port, { path: '/x', headers: { 'x-forwarded-for': ip } })).status);
      assert.deepEqual(statuses, expected, mode);
      assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
    }
  });
}
