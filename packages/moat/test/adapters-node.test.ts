// The node:http adapter on real sockets; also where the adapter-independent behaviour is proven end to
// end (client IP, evasions, big headers, bodies, rate limits), since every other adapter shares it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { withMoat } from '../src/adapters/node.js';
import { createFirewall } from '../src/firewall/firewall.js';
import type { MoatOptions } from '../src/firewall/options.js';
import type { MoatHttpRequest } from '../src/http/normalized-request.js';
import type { ForwardingHeader } from '../src/http/client-address.js';
import type { Decision } from '../src/engine/decision.js';
import { STANDARD_RULES, bigForm, close, listen, rawRequest, rulesFile, send } from './adapters-helpers.js';

const rules = rulesFile({ ...STANDARD_RULES, allow: { ips: ['198.51.100.1'] } });
after(() => rules.cleanup());

/** The app: echoes what it received, body included (read by the app itself, after Moat). */
function app(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      url: req.url, length: body.length, sha: createHash('sha256').update(body).digest('hex'), tail: body.subarray(-20).toString(),
    }));
  });
}

interface Seen { decision: Decision; request: MoatHttpRequest }

async function server(options: MoatOptions, host = '127.0.0.1', serverOptions: { maxHeaderSize?: number; insecureHTTPParser?: boolean } = {}) {
  const seen: Seen[] = [];
  const handler = withMoat(app, {
    rules: rules.path, logger: false, ...options,
    onDecision: (decision, request) => seen.push({ decision, request }),
  });
  const srv = createServer(serverOptions, handler);
  const port = await listen(srv, host);
  after(() => close(srv));
  return { port, seen, firewall: handler.firewall };
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('blocked path answers 403 Blocked; an ordinary request reaches the app', async () => {
  const { port, seen, firewall } = await server({});
  const blocked = await send(port, { path: '/wp-admin/setup.php' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, 'Blocked');
  const ok = await send(port, { path: '/hello?x=1' });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).url, '/hello?x=1');
  assert.equal(seen.length, 2);
  assert.equal(seen[0].decision.category, 'bp');
  assert.equal(seen[1].decision.treatment, 'Passed');
  assert.equal(seen[1].request.ip, '127.0.0.1');
  assert.equal(seen[1].request.ipSource, 'socket');
  const stats = firewall.stats();
  assert.equal(stats.requests, 2);
  assert.equal(stats.blocked, 1);
  assert.equal(stats.passed, 1);
});

test('path evasions and upper-case variants are blocked', async () => {
  const { port } = await server({});
  const evasions = ['/%77p-admin', '//wp-admin', '/./x/../wp-admin', '/WP-ADMIN', '/%57P-Admin', '/x/..%2Fwp-admin',
    '/x/%2e%2e/WP-admin', '/\\wp-admin', 'http://example.test/wp-admin'];
  for (const path of evasions) {
    const res = await send(port, { path });
    assert.equal(res.status, 403, `${path} got ${res.status}`);
  }
  assert.equal((await send(port, { path: '/wp-adminer-docs'.replace('-admin', '') })).status, 200);
});

test('invalid UTF-8 in the path never throws; bytes around it are still matched', async () => {
  const { port, firewall, seen } = await server({}, '127.0.0.1', { insecureHTTPParser: true });
  // Percent-encoded invalid UTF-8 reaches Moat: it decodes to U+FFFD and is judged like any other path.
  assert.equal((await send(port, { path: '/%ff%fe%c0%af/x' })).status, 200);
  assert.ok(seen.at(-1)!.request.path.includes('\uFFFD'));
  assert.equal((await send(port, { path: '/%ff/../wp-admin' })).status, 403);
  assert.equal((await send(port, { path: '/%C0%AF%ff/WP-ADMIN' })).status, 403);
  // Raw non-ASCII bytes are refused by Node's HTTP parser itself (400) before any handler runs;
  // the server must stay up and keep judging the next requests.
  const { rawRequest } = await import('./adapters-helpers.js');
  const raw = Buffer.concat([Buffer.from('GET /'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('/x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n')]);
  assert.ok([200, 400].includes((await rawRequest(port, raw)).status));
  assert.equal((await send(port, { path: '/wp-admin' })).status, 403);
  assert.equal(firewall.stats().engineErrors, 0);
});

test('a 64 KB header is judged without trouble', async () => {
  const { port } = await server({}, '127.0.0.1', { maxHeaderSize: 128 * 1024 });
  const big = 'x'.repeat(64 * 1024);
  assert.equal((await send(port, { headers: { 'user-agent': big } })).status, 200);
  assert.equal((await send(port, { headers: { 'user-agent': big + 'EvilBot/1.0' } })).status, 403);
  assert.equal((await send(port, { headers: { 'x-junk': big }, path: '/ok' })).status, 200);
  assert.equal((await send(port, { path: '/search?q=' + 'a'.repeat(60 * 1024) + '%3Cscript%3E' })).status, 403);
});

test('spoofed X-Forwarded-For / X-Real-IP / CF-Connecting-IP from an untrusted peer are ignored', async () => {
  const { port, seen } = await server({ trustedProxies: ['10.0.0.0/8'] });
  for (const header of ['x-forwarded-for', 'x-real-ip', 'cf-connecting-ip', 'true-client-ip', 'fly-client-ip']) {
    // Claiming a blocked IP does not get a client blocked...
    assert.equal((await send(port, { headers: { [header]: '203.0.113.66' } })).status, 200, header);
    assert.equal(seen.at(-1)!.request.ip, '127.0.0.1');
    assert.equal(seen.at(-1)!.request.ipSource, 'socket');
    // ...and claiming an allowed IP does not let one skip the rules (the Wafris v2 hole).
    assert.equal((await send(port, { path: '/wp-admin', headers: { [header]: '198.51.100.1' } })).status, 403, header);
  }
  assert.equal((await send(port, { path: '/wp-admin', headers: { forwarded: 'for=198.51.100.1' } })).status, 403);
});

test('each header, when it is the configured ipHeader, is used from a trusted peer, and the source is recorded', async () => {
  const cases: [string, string, string][] = [
    ['x-forwarded-for', '6.6.6.6, 203.0.113.66', 'x-forwarded-for'],
    ['x-real-ip', '203.0.113.66', 'x-real-ip'],
    ['cf-connecting-ip', '203.0.113.66', 'cf-connecting-ip'],
    ['forwarded', 'for=203.0.113.66;proto=https', 'forwarded'],
    ['true-client-ip', '203.0.113.66', 'true-client-ip'],
    ['fly-client-ip', '203.0.113.66', 'fly-client-ip'],
  ];
  for (const [header, value, source] of cases) {
    const { port, seen } = await server({ trustedProxies: ['loopback'], ipHeader: header as ForwardingHeader });
    assert.equal((await send(port, { headers: { [header]: value } })).status, 403, header);
    assert.equal(seen.at(-1)!.request.ip, '203.0.113.66');
    assert.equal(seen.at(-1)!.request.ipSource, source);
    assert.equal(seen.at(-1)!.decision.category, 'bi');
  }
  // An allowed client behind the proxy skips the path rule.
  const { port, seen } = await server({ trustedProxies: ['loopback'] });
  assert.equal((await send(port, { path: '/wp-admin', headers: { 'x-forwarded-for': '198.51.100.1' } })).status, 200);
  assert.equal(seen.at(-1)!.decision.category, 'ai');
});

test('TRUSTED_PROXY_RANGES from the environment is honoured', async () => {
  const { port, seen } = await server({ env: { TRUSTED_PROXY_RANGES: '10.0.0.0/8, 127.0.0.1/32' } });
  assert.equal((await send(port, { headers: { 'x-forwarded-for': '203.0.113.66' } })).status, 403);
  assert.equal(seen.at(-1)!.request.ipSource, 'x-forwarded-for');
});

test('IPv6 peers: a server on ::1', async () => {
  const v6 = rulesFile({ block: { ips: ['::1'] } });
  after(() => v6.cleanup());
  const { port, seen } = await server({ rules: v6.path }, '::1');
  const res = await send(port, { host: '::1' });
  assert.equal(res.status, 403);
  assert.equal(seen.at(-1)!.request.ip, '::1');
  assert.equal(seen.at(-1)!.decision.category, 'bi');
  // ::1 trusted as loopback: its X-Forwarded-For is used.
  const trusted = await server({ rules: rules.path, trustedProxies: ['loopback'] }, '::1');
  await send(trusted.port, { host: '::1', headers: { 'x-forwarded-for': '2001:db8::5' } });
  assert.equal(trusted.seen.at(-1)!.request.ip, '2001:db8::5');
  assert.equal(trusted.seen.at(-1)!.request.ipSource, 'x-forwarded-for');
});

test('IPv4-mapped peers (::ffff:) on a dual-stack server match IPv4 rules and presets', async () => {
  const v4 = rulesFile({ block: { ips: ['127.0.0.1'] } });
  after(() => v4.cleanup());
  const { port, seen } = await server({ rules: v4.path }, '::');
  const res = await send(port, { host: '127.0.0.1' });
  assert.equal(res.status, 403);
  assert.equal(seen.at(-1)!.request.ip, '127.0.0.1');
  const trusted = await server({ rules: rules.path, trustedProxies: ['127.0.0.0/8'], ipHeader: 'x-real-ip' }, '::');
  assert.equal((await send(trusted.port, { host: '127.0.0.1', headers: { 'x-real-ip': '203.0.113.66' } })).status, 403);
  assert.equal(trusted.seen.at(-1)!.request.ipSource, 'x-real-ip');
});

test('POST body arrives intact at the app after Moat read the form parameters', async () => {
  const { port, seen, firewall } = await server({});
  const small = 'name=J%C3%BCrgen&comment=hello+world';
  let res = await send(port, { method: 'POST', path: '/form?q=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: small });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).sha, sha(small));
  assert.equal(seen.at(-1)!.request.params, 'q=1&name=Jürgen&comment=hello world');

  // Larger than the default 64 KiB limit: judged on its beginning, delivered whole.
  const big = bigForm(2000);
  assert.ok(big.length > 100_000);
  res = await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).length, big.length);
  assert.equal(JSON.parse(res.body).sha, sha(big));

  // Chunked, in several writes, no length given.
  const chunked = bigForm(100);
  const hex = chunked.length.toString(16);
  const { rawRequest } = await import('./adapters-helpers.js');
  const head = 'POST /form HTTP/1.1\r\nhost: a\r\nconnection: close\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\n\r\n';
  res = await rawRequest(port, `${head}${hex}\r\n${chunked}\r\n0\r\n\r\n`);
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).sha, sha(chunked));

  // A parameter rule sees the decoded form field.
  res = await send(port, { method: 'POST', path: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&c=%3CScript%3Ealert(1)' });
  assert.equal(res.status, 403);
  assert.equal(seen.at(-1)!.decision.category, 'bparam');

  // Not a form: not read, still delivered.
  const other = '{"c":"<script>"}';
  res = await send(port, { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: other });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).sha, sha(other));
  const stats = firewall.stats();
  assert.equal(stats.bodiesInspected, 4);
  assert.equal(stats.bodiesTruncated, 1);
});

test('JSON bodies are inspected only when asked, flattened, and still delivered', async () => {
  const body = '{"user":{"bio":"\\u003cscript\\u003ealert(1)"}}';
  const off = await server({});
  assert.equal((await send(off.port, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200);
  const on = await server({ body: { json: true } });
  assert.equal((await send(on.port, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 403);
  assert.equal(on.seen.at(-1)!.request.params, 'user.bio=<script>alert(1)');
  const fine = '{"user":{"bio":"hello"}}';
  const res = await send(on.port, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fine });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).sha, sha(fine));
});

test('bodies are not touched when no parameter rule exists', async () => {
  const pathsOnly = rulesFile({ block: { paths: ['/wp-admin'] } });
  after(() => pathsOnly.cleanup());
  const { port, firewall, seen } = await server({ rules: pathsOnly.path });
  const body = 'a=%3Cscript%3E';
  const res = await send(port, { method: 'POST', path: '/form?x=%3C', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).sha, sha(body));
  assert.equal(firewall.stats().bodiesInspected, 0);
  assert.equal(seen.at(-1)!.request.params, undefined);
});

test('a rate-limited client gets 429 with Retry-After and is let through after the window', async () => {
  let clock = Date.UTC(2026, 10, 25);
  const { port, seen } = await server({ now: () => clock });
  const login = () => send(port, { method: 'POST', path: '/login', body: '' });
  assert.equal((await login()).status, 200);
  assert.equal((await login()).status, 200);
  const limited = await login();
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 120, `Retry-After ${limited.headers['retry-after']}`);
  assert.equal(seen.at(-1)!.decision.category, 'brl');
  // Other paths are not limited.
  assert.equal((await send(port, { path: '/other' })).status, 200);
  clock += retryAfter * 1000;
  assert.equal((await login()).status, 200);
});

test('custom answers: status and body, or a handler', async () => {
  const fixed = await server({ blocked: { status: 404, body: 'Not Found' }, rateLimited: { status: 503 } });
  const res = await send(fixed.port, { path: '/wp-admin' });
  assert.equal(res.status, 404);
  assert.equal(res.body, 'Not Found');
  const handled = await server({
    blocked: (decision, request) => ({ status: 451, headers: { 'x-rule': decision.rule }, body: `no ${request.path}` }),
  });
  const res2 = await send(handled.port, { path: '//wp-admin' });
  assert.equal(res2.status, 451);
  assert.equal(res2.headers['x-rule'], '/wp-admin');
  assert.equal(res2.body, 'no /wp-admin');
});

test('one firewall can serve several servers', async () => {
  const firewall = createFirewall({ rules: rules.path, logger: false });
  const a = createServer(withMoat(app, firewall));
  const b = createServer(withMoat(app, firewall));
  const [pa, pb] = [await listen(a), await listen(b)];
  after(() => Promise.all([close(a), close(b)]));
  await send(pa, { path: '/wp-admin' });
  await send(pb, { path: '/x' });
  assert.deepEqual([firewall.stats().blocked, firewall.stats().passed], [1, 1]);
  firewall.close();
});

test('host rules see the host lower-cased without port, from the Host header or an absolute target', async () => {
  const hosts = rulesFile({ block: { hosts: ['admin.example.com'] } });
  after(() => hosts.cleanup());
  const { port, seen } = await server({ rules: hosts.path });
  assert.equal((await send(port, { headers: { host: 'Admin.EXAMPLE.com:8443' } })).status, 403);
  assert.equal(seen.at(-1)!.request.host, 'admin.example.com');
  assert.equal((await send(port, { headers: { host: 'admin.example.com.' } })).status, 403);
  assert.equal((await send(port, { path: 'http://ADMIN.example.com:80/x', headers: { host: 'www.example.com' } })).status, 403);
  assert.equal((await send(port, { headers: { host: 'www.example.com' } })).status, 200);
});

test('Host and User-Agent in any case, duplicates judged as Node keeps them (the first)', async () => {
  const agents = rulesFile({ block: { userAgents: ['sqlmap'], hosts: ['admin.example.com'] } });
  after(() => agents.cleanup());
  const { port, seen } = await server({ rules: agents.path });
  const head = (lines: string[]) => `GET /x HTTP/1.1\r\n${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`;
  // Node keeps the first Host and User-Agent of duplicates in req.headers; Moat must judge the same ones.
  assert.equal((await rawRequest(port, head(['HOST: www.example.com', 'USER-AGENT: SQLMap/1.8', 'user-agent: Mozilla/5.0']))).status, 403);
  assert.equal(seen.at(-1)!.request.userAgent, 'SQLMap/1.8');
  assert.equal(seen.at(-1)!.request.userAgent, seen.at(-1)!.request.headers['user-agent']);
  assert.equal((await rawRequest(port, head(['User-Agent: Mozilla/5.0', 'uSeR-aGeNt: sqlmap', 'Host: www.example.com']))).status, 200);
  assert.equal(seen.at(-1)!.request.userAgent, 'Mozilla/5.0');
  assert.equal((await rawRequest(port, head(['hOsT: Admin.Example.COM:8443', 'User-Agent: x']))).status, 403);
  assert.equal(seen.at(-1)!.request.host, 'admin.example.com');
  // Names that only look alike are not these headers.
  assert.equal((await rawRequest(port, head(['Host: www.example.com', 'X-User-Agent: sqlmap', 'User-Agentx: sqlmap']))).status, 200);
  assert.equal(seen.at(-1)!.request.userAgent, undefined);
  // The headers object is still there for listeners, as Node parsed it.
  assert.equal(seen.at(-1)!.request.headers['x-user-agent'], 'sqlmap');
});

test('X-Forwarded-For through a chain of trusted proxies: trusted hops are skipped, the first untrusted is the client', async () => {
  const { port, seen } = await server({ trustedProxies: ['loopback', '10.0.0.0/8'] });
  // The client lied (6.6.6.6); proxy 10.1.1.1 saw 203.0.113.66; proxy 10.2.2.2 saw 10.1.1.1; we see 10.2.2.2 via loopback.
  assert.equal((await send(port, { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.66, 10.1.1.1, 10.2.2.2' } })).status, 403);
  assert.equal(seen.at(-1)!.request.ip, '203.0.113.66');
  // Claiming the allowed IP further left changes nothing.
  assert.equal((await send(port, { path: '/wp-admin', headers: { 'x-forwarded-for': '198.51.100.1, 192.0.2.9, 10.1.1.1' } })).status, 403);
  assert.equal(seen.at(-1)!.request.ip, '192.0.2.9');
});
