import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { ADMIN_PASSWORD, Client, createSiteWithKey, record, startTestHub, upsyncBody } from './support/hub-fixture.js';

describe('hub security', () => {
  it('never writes passwords, API keys or session tokens to its log', async () => {
    const lines: string[] = [];
    const hub = await startTestHub({ logger: { level: 'trace', stream: { write: (line: string) => lines.push(line) } } });
    try {
      const client = new Client(hub.url);
      assert.equal((await client.login()).status, 303);
      assert.equal((await new Client(hub.url).login(undefined, 'a wrong password')).status, 401);
      const { apiKey, siteId } = await createSiteWithKey(client);
      const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody([record()])) });
      assert.equal(up.status, 200);
      const down = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat`);
      assert.equal(down.status, 200);
      await down.arrayBuffer();
      assert.equal((await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}x`)).status, 401);
      assert.equal((await client.request(`/sites/${siteId}/setup`)).status, 200);

      const log = lines.join('\n');
      assert.ok(lines.length > 5, 'the logger received the requests');
      assert.match(log, /\/v2\/downsync\/custom_rules\/moat_/, 'downsync requests are logged, redacted');
      const session = client.cookies.get('moat_session')!;
      for (const secret of [ADMIN_PASSWORD, apiKey, apiKey.slice(5, 30), session, client.csrf]) {
        assert.equal(log.includes(secret), false, `secret ${secret.slice(0, 6)}… must not be logged`);
      }
    } finally {
      await hub.stop();
    }
  });

  it('is protected by Moat\'s own middleware, with operator rules on top of the baseline', async () => {
    const hub = await startTestHub({ selfProtection: { rules: { block: { userAgents: ['evilscanner'], paths: ['/.env'] } } } });
    try {
      const blocked = await fetch(`${hub.url}/login`, { headers: { 'user-agent': 'EvilScanner/2.0' } });
      assert.equal(blocked.status, 403);
      assert.equal(await blocked.text(), 'Blocked');
      assert.equal((await fetch(`${hub.url}/.env`)).status, 403);
      // Blocked before any route runs, API-key routes included.
      assert.equal((await fetch(`${hub.url}/v2/downsync/custom_rules/moat_x`, { headers: { 'user-agent': 'evilscanner' } })).status, 403);
      // Baseline: TRACE is refused.
      assert.equal(await rawStatus(`${hub.url}/login`, 'TRACE'), 403);
      assert.equal((await fetch(`${hub.url}/login`)).status, 200);
    } finally {
      await hub.stop();
    }
  });

  it('answers malformed ids and params with 4xx, never 500', async () => {
    const hub = await startTestHub();
    try {
      const client = new Client(hub.url);
      await client.login();
      for (const path of ['/api/sites/abc/rules', '/api/sites/-1/rules', '/api/sites/99999/rules', `/api/sites/1'%20OR%201=1/rules`, '/sites/0', '/sites/1e3']) {
        const response = await client.request(path);
        assert.ok(response.status >= 400 && response.status < 500, `${path}: ${response.status}`);
      }
      const sqlish = await client.request(`/api/sites/1/requests?ip=${encodeURIComponent("1' OR '1'='1")}`);
      assert.ok(sqlish.status === 404 || sqlish.status === 200);
      const { siteId } = await createSiteWithKey(client);
      const injected = await client.request(`/api/sites/${siteId}/requests?ip=${encodeURIComponent("1' OR '1'='1")}&path=${encodeURIComponent("%' --")}`);
      assert.equal(injected.status, 200);
      assert.deepEqual(((await injected.json()) as { rows: unknown[] }).rows, []);
    } finally {
      await hub.stop();
    }
  });
});

/** fetch refuses TRACE, so this goes through node:http. */
function rawStatus(url: string, method: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
