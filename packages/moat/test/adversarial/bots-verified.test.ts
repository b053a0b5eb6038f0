// Verified bots, attacked on real Express, Fastify and node:http apps on 127.0.0.1 behind a trusted proxy
// (127.0.0.1, the test client): the client IP comes from X-Forwarded-For, as it would from a load
// balancer. The data file holds Google's and Bing's crawler ranges imported from the JSON shape they
// publish (the `crawlers` feed format), IPv4 and IPv6. A crawler user agent from inside its ranges is
// verified and passes even a country block; the same user agent from anywhere else is `bot-spoofed`
// and refused before the handler, however the claim is disguised; an AI crawler is refused by category;
// a browser is untouched.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { Decision } from '../../src/engine/decision.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { buildDataFile } from '../../src/data/build-data.js';
import { importCloudRanges } from '../../src/data/importers/cloud-ranges.js';
import { parseRange } from '../../src/ip/range.js';
import { close, listen, rawRequest } from '../adapters-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-bots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Shaped as Google's googlebot.json and Bing's bingbot.json; the addresses are from the ranges they publish.
const GOOGLEBOT_JSON = JSON.stringify({
  creationTime: '2026-11-30T00:00:00.000000', prefixes: [{ ipv4Prefix: '66.249.64.0/27' }, { ipv4Prefix: '66.249.66.0/27' }, { ipv6Prefix: '2001:4860:4801:10::/64' }],
});
const BINGBOT_JSON = JSON.stringify({ creationTime: '2026-11-30T00:00:00', prefixes: [{ ipv4Prefix: '157.55.39.0/24' }, { ipv4Prefix: '40.77.167.0/24' }] });

function crawlerList(name: string, json: string) {
  const imported = importCloudRanges(json, 'crawlers');
  return { name, ranges: imported.rows, summary: { name, kind: 'cloud' as const, ranges: imported.rows.length, invalidLines: 0 } };
}

const DATA = join(dir, 'data.moat');
buildDataFile({
  countries: { rows: [{ range: parseRange('66.0.0.0/8'), country: 'US' }], summary: { name: 'countries', kind: 'country', ranges: 1, invalidLines: 0 } },
  lists: [crawlerList('googlebot', GOOGLEBOT_JSON), crawlerList('bingbot', BINGBOT_JSON)],
}, DATA);

let files = 0;
function rulesFile(text: string): string {
  const { rules, attacks, bots } = parseRulesSource(text);
  const path = join(dir, `rules-${files++}.moat`);
  writeRulesFile(rules, path, { attacks, bots });
  return path;
}

/** The operator's choice from the issue: verified search engines in, spoofers and AI crawlers out, US blocked. */
const RULES = rulesFile(`
bots:
  search-engine: allow
  spoofed: block
  ai-crawler: block
block:
  countries: [US]
`);

const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const GOOGLEBOT_SMARTPHONE = 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const BINGBOT = 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)';
const GPTBOT = 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const GOOGLE_V4 = '66.249.66.1';
const GOOGLE_V6 = '2001:4860:4801:10::3a';
const BING_V4 = '157.55.39.7';
const ELSEWHERE = '203.0.113.50';
const ELSEWHERE_V6 = '2001:db8:77::1';

interface App {
  port: number;
  served: string[];
  decisions: Decision[];
  firewall: Firewall;
}

type Framework = 'express' | 'fastify' | 'node';
const FRAMEWORKS: Framework[] = ['express', 'fastify', 'node'];

async function start(framework: Framework): Promise<App> {
  const decisions: Decision[] = [];
  const served: string[] = [];
  const firewall = createFirewall({
    rules: RULES, data: DATA, logger: false, now: () => 0, trustedProxies: ['127.0.0.1'], onDecision: (d) => decisions.push(d),
  });
  after(() => firewall.close());
  if (framework === 'fastify') {
    const app = Fastify();
    await app.register(fastifyMoat, { firewall });
    app.get('/*', async (req) => {
      served.push(req.url);
      return 'served';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    after(() => app.close());
    return { port: (app.server.address() as { port: number }).port, served, decisions, firewall };
  }
  let server: Server;
  if (framework === 'express') {
    const app = express();
    app.use(expressMoat(firewall));
    app.get('/{*rest}', (req, res) => {
      served.push(req.originalUrl);
      res.send('served');
    });
    server = createServer(app);
  } else {
    server = createServer(withMoat((req, res) => {
      served.push(req.url ?? '');
      res.end('served');
    }, firewall));
  }
  const port = await listen(server);
  after(() => close(server));
  return { port, served, decisions, firewall };
}

/** A GET with the user agent sent as UTF-8 bytes (as a client would), from `ip` via the trusted proxy. */
function get(port: number, path: string, userAgent: string, ip: string) {
  const head = `GET ${path} HTTP/1.1\r\nhost: example.test\r\nconnection: close\r\nuser-agent: ${userAgent}\r\nx-forwarded-for: ${ip}\r\n\r\n`;
  return rawRequest(port, Buffer.from(head, 'utf8'));
}

for (const framework of FRAMEWORKS) {
  test(`${framework}: verified Googlebot (UA and IP in the googlebot list) passes a US country block, IPv4 and IPv6`, async () => {
    const app = await start(framework);
    for (const [ua, ip] of [[GOOGLEBOT, GOOGLE_V4], [GOOGLEBOT_SMARTPHONE, GOOGLE_V4], [GOOGLEBOT, GOOGLE_V6], [BINGBOT, BING_V4]] as const) {
      app.decisions.length = 0;
      const res = await get(app.port, '/page', ua, ip);
      assert.equal(res.status, 200, `${ua} from ${ip}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.treatment, 'Allowed');
      assert.equal(d.category, 'bot-search-engine');
      assert.equal(d.ruleId, 'bots.search-engine');
    }
    assert.equal(app.served.length, 4);
  });

  test(`${framework}: "Googlebot" from an IP outside Google's ranges is bot-spoofed and blocked before the handler, IPv4 and IPv6`, async () => {
    const app = await start(framework);
    for (const [ua, ip] of [[GOOGLEBOT, ELSEWHERE], [GOOGLEBOT, ELSEWHERE_V6], [GOOGLEBOT, BING_V4], [BINGBOT, ELSEWHERE]] as const) {
      app.decisions.length = 0;
      const res = await get(app.port, '/page', ua, ip);
      assert.equal(res.status, 403, `${ua} from ${ip}`);
      const d = app.decisions.at(-1)!;
      assert.equal(d.category, 'bot-spoofed', `${ua} from ${ip}`);
      assert.equal(d.treatment, 'Blocked');
    }
    assert.deepEqual(app.served, []);
  });

  test(`${framework}: disguised "Googlebot" claims from outside Google's ranges are still bot-spoofed`, async () => {
    const app = await start(framework);
    const disguises = [
      'GOOGLEBOT/2.1', 'gOoGlEbOt/2.1', // mixed case
      'Mozilla/5.0 (compatible; Google\u200Bbot/2.1)', // zero-width space, sent as UTF-8 bytes
      'Mozilla/5.0 (compatible; Goo\u00ADglebot/2.1)', // soft hyphen
      'Mozilla/5.0 (compatible; Google\u2060bot/2.1)', // word joiner
      'Mozilla/5.0 (compatible; \uFF27\uFF4F\uFF4F\uFF47\uFF4C\uFF45bot/2.1)', // full-width letters
      'Mozilla/5.0 (compatible; G\u043Eoglebot/2.1)', // Cyrillic o
      'Mozilla/5.0 (compatible; Googlebo\u0308t/2.1)', // combining diaeresis
      `${'x'.repeat(3000)} Googlebot/2.1`, // past any memo length
      `${BROWSER} Googlebot`, // inside a longer, browser-like user agent
      `${'\uFDFA'.repeat(4000)} GoogleBot/2.1`, // after 12 KB of a character NFKD expands 18-fold (folded only at the start)
      `Mozilla/5.0 (compatible; G\u043Eoglebot/2.1) ${'\u00E9'.repeat(3000)}`, // a disguise at the start of a long non-ASCII value
    ];
    for (const ua of disguises) {
      app.decisions.length = 0;
      const res = await get(app.port, '/page', ua, ELSEWHERE);
      assert.equal(res.status, 403, JSON.stringify(ua.slice(0, 60)));
      assert.equal(app.decisions.at(-1)!.category, 'bot-spoofed', JSON.stringify(ua.slice(0, 60)));
    }
    assert.deepEqual(app.served, []);
  });

  test(`${framework}: GPTBot is blocked as ai-crawler; a browser is untouched`, async () => {
    const app = await start(framework);
    const blocked = await get(app.port, '/article', GPTBOT, ELSEWHERE);
    assert.equal(blocked.status, 403);
    assert.equal(app.decisions.at(-1)!.category, 'bot-ai-crawler');
    assert.equal(app.decisions.at(-1)!.rule, 'gptbot');
    const browser = await get(app.port, '/article', BROWSER, ELSEWHERE);
    assert.equal(browser.status, 200);
    const d = app.decisions.at(-1)!;
    assert.equal(d.treatment, 'Passed');
    assert.deepEqual(d.monitored, []);
    assert.deepEqual(app.served, ['/article']);
  });

  test(`${framework}: a browser from a US address is still blocked by the country rule (allow applies to verified bots only)`, async () => {
    const app = await start(framework);
    const res = await get(app.port, '/page', BROWSER, '66.1.2.3');
    assert.equal(res.status, 403);
    assert.equal(app.decisions.at(-1)!.category, 'bctry');
    // A Googlebot claim from that US address is not in Google's ranges, so not allowed: the country rule
    // (before the user-agent stage) refuses it. Bingbot from Google's US range likewise.
    for (const [ua, ip] of [[GOOGLEBOT, '66.1.2.3'], [BINGBOT, GOOGLE_V4]]) {
      const spoof = await get(app.port, '/page', ua, ip);
      assert.equal(spoof.status, 403, `${ua} from ${ip}`);
      assert.equal(app.decisions.at(-1)!.category, 'bctry');
    }
    assert.deepEqual(app.served, []);
  });
}

test('a client cannot claim a crawler IP through X-Forwarded-For without a trusted proxy', async () => {
  const decisions: Decision[] = [];
  const firewall = createFirewall({ rules: RULES, data: DATA, logger: false, now: () => 0, onDecision: (d) => decisions.push(d) });
  after(() => firewall.close());
  const server = createServer(withMoat((_req, res) => res.end('served'), firewall));
  const port = await listen(server);
  after(() => close(server));
  // 127.0.0.1 is not trusted here, so the header is ignored: the peer is not in Google's ranges.
  const res = await get(port, '/', GOOGLEBOT, GOOGLE_V4);
  assert.equal(res.status, 403);
  assert.equal(decisions.at(-1)!.category, 'bot-spoofed');
});

// Anyone can make a crawler fetch a URL of their choosing (a link planted on a page, a feed URL handed to
// a fetcher), so `allow` for a verified bot lifts the rules on who asks, never those on what is asked for.
test('a verified bot allowed by its mode passes the rules on who asks, but path, parameter, method and attack rules and rate limits still judge it', async () => {
  const rules = rulesFile(`
bots:
  search-engine: allow
  spoofed: block
attacks: block
block:
  countries: [US]
  ips: [66.249.66.0/24]
  userAgents: [googlebot]
  paths: [/wp-admin]
  params: ["<script"]
  methods: [DELETE]
rateLimits:
  - { path: /login, method: POST, limit: 3, window: 60s }
`);
  const decisions: Decision[] = [];
  const firewall = createFirewall({ rules, data: DATA, logger: false, now: () => 0, trustedProxies: ['127.0.0.1'], onDecision: (d) => decisions.push(d) });
  after(() => firewall.close());
  const served: string[] = [];
  const server = createServer(withMoat((req, res) => {
    served.push(`${req.method} ${req.url}`);
    res.end('served');
  }, firewall));
  const port = await listen(server);
  after(() => close(server));
  const ask = async (method: string, target: string) => {
    const res = await rawRequest(port, `${method} ${target} HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ${GOOGLEBOT}\r\nX-Forwarded-For: ${GOOGLE_V4}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    const d = decisions.at(-1)!;
    return `${res.status} ${d.treatment} ${d.category}`;
  };
  // Its country, its address and its user agent are blocked, yet it is Allowed: those rules are on who asks.
  assert.equal(await ask('GET', '/page'), '200 Allowed bot-search-engine');
  // What it asks for is judged as anyone's request.
  assert.equal(await ask('GET', '/wp-admin/setup.php'), '403 Blocked bp');
  assert.equal(await ask('GET', '/search?q=%3Cscript%3Ealert(1)'), '403 Blocked bparam');
  assert.equal(await ask('DELETE', '/page'), '403 Blocked bm');
  assert.equal(await ask('GET', "/item?id=1'%20UNION%20SELECT%20password%20FROM%20users--"), '403 Blocked attack-sqli');
  const logins = [];
  for (let i = 0; i < 5; i++) logins.push(await ask('POST', '/login'));
  assert.deepEqual(logins, [...Array(3).fill('200 Allowed bot-search-engine'), '429 Blocked brl', '429 Blocked brl']);
  assert.deepEqual(served, ['GET /page', 'POST /login', 'POST /login', 'POST /login']);
});
