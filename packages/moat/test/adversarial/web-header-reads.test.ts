// What the Web front door reads from a Request's headers, counted on real Requests from real sockets
// (@hono/node-server, judged by the Web path as on Bun and Deno). Each Headers.get() costs about as much
// as the rest of a header's judging, so each name is asked once per request, and only the names the
// loaded rules need: a cookie or Referer is read only when attack detection is on. Reading less must
// never mean judging less: the same requests with a blocked value in those headers are refused.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { withMoatFetch } from '../../src/adapters/web.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { bunStyleServer, close, listen, send } from '../adapters-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-header-reads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rulesFile(name: string, document: object): string {
  const { rules, attacks } = parseRulesSource(JSON.stringify(document));
  const path = join(dir, `${name}.moat`);
  writeRulesFile(rules, path, { attacks });
  return path;
}

/** A fetch handler guarded by Moat's Web path; `reads` gets the names Moat asked each request's Headers for. */
async function serve(rulesPath: string): Promise<{ port: number; reads: string[][] }> {
  const firewall = createFirewall({ rules: rulesPath, logger: false, trustedProxies: [] });
  after(() => firewall.close());
  const reads: string[][] = [];
  const guarded = withMoatFetch<[unknown]>(() => new Response('app'), firewall);
  const server = createAdaptorServer({
    fetch: (request: Request, env: unknown) => {
      const names: string[] = [];
      reads.push(names);
      const headers = request.headers;
      const get = headers.get.bind(headers);
      // Counted on the request's own Headers object: every read Moat makes goes through it.
      Object.defineProperty(headers, 'get', {
        value: (name: string) => {
          names.push(name.toLowerCase());
          return get(name);
        },
      });
      return guarded(request, bunStyleServer(env));
    },
  }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return { port, reads };
}

const twice = (names: string[]) => names.filter((name, i) => names.indexOf(name) !== i);
const BROWSER = { 'user-agent': 'Mozilla/5.0', cookie: 'session=abc; theme=dark', referer: 'https://example.test/from' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

test('without attack detection, a GET carrying a cookie and a Referer has neither read, and no header is read twice', async () => {
  const { port, reads } = await serve(rulesFile('plain', { block: { paths: ['/wp-admin'], userAgents: ['evilbot'], params: ['<script'] } }));
  assert.equal((await send(port, { path: '/products/1?page=2', headers: BROWSER })).body, 'app');
  assert.equal((await send(port, { method: 'POST', path: '/form', headers: { ...BROWSER, ...FORM }, body: 'a=1' })).body, 'app');
  assert.equal((await send(port, { path: '/wp-admin', headers: BROWSER })).status, 403);
  assert.equal(reads.length, 3);
  for (const names of reads) {
    assert.deepEqual(twice(names), [], names.join(','));
    assert.ok(!names.includes('cookie') && !names.includes('referer'), names.join(','));
    assert.ok(names.includes('user-agent') && names.includes('host'), names.join(','));
  }
});

test('with attack detection on, a SQL injection in the cookie or the Referer is blocked, each header read once', async () => {
  const { port, reads } = await serve(rulesFile('attacks', { attacks: { sqli: 'block', xss: 'block' } }));
  assert.equal((await send(port, { path: '/products/1', headers: BROWSER })).body, 'app');
  const injected = "1' UNION SELECT password FROM users--";
  assert.equal((await send(port, { path: '/products/1', headers: { ...BROWSER, cookie: `session=${encodeURIComponent(injected)}` } })).status, 403);
  assert.equal((await send(port, { path: '/products/1', headers: { ...BROWSER, referer: `https://example.test/?q=${injected}` } })).status, 403);
  assert.equal(reads.length, 3);
  const [clean] = reads;
  assert.ok(clean !== undefined && clean.includes('cookie') && clean.includes('referer'), clean?.join(','));
  // The user agent is judged by the normaliser and by attack detection: asked of the Headers once.
  for (const names of reads) assert.deepEqual(twice(names), [], names.join(','));
});
