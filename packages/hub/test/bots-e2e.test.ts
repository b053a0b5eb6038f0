// Verified bots managed from the hub, end to end over real sockets: Google's crawler ranges uploaded as
// a `crawlers` feed named `googlebot` → the hub builds the data file; the admin blocks AI crawlers and
// spoofed crawlers and allows verified search engines in one click each on the Rules page → the site's
// rules file carries them; a managed Moat client behind a trusted proxy (127.0.0.1) decides with both
// files and reports bot decisions to the hub under their categories. Every change is in the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { until } from './support/until.js';
import { startWelcomeApp, type WelcomeApp } from './support/welcome-app.js';

const HOUR = 3_600_000;
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const GPTBOT = 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const GOOGLE_IP = '66.249.66.1';
const GOOGLE_V6 = '2001:4860:4801:10::3a';
const ELSEWHERE = '203.0.113.50';

/** Clicks one of the Rules page's bot buttons: the form as the page renders it, posted with the session. */
async function click(client: Client, siteId: number, key: string, mode: string): Promise<Response> {
  const page = await (await client.request(`/sites/${siteId}/rules`)).text();
  const row = new RegExp(`<tr data-bot-key="${key}">[\\s\\S]*?</tr>`).exec(page);
  assert.ok(row, `the Rules page has a bot row for ${key}`);
  const form = new RegExp(`name="_csrf" value="([^"]+)"><input type="hidden" name="key" value="${key}"><input type="hidden" name="mode" value="${mode}">`).exec(row[0]);
  assert.ok(form, `the ${key} row has a ${mode} button`);
  return client.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: form[1]!, key, mode } });
}

describe('verified bots managed from the hub', () => {
  let hub: TestHub;
  let client: Client;
  let siteId = 0;
  let clientApp: WelcomeApp | undefined;
  let port = 0;

  const get = async (path: string, userAgent: string, ip: string): Promise<number> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'user-agent': userAgent, 'x-forwarded-for': ip } });
    await response.arrayBuffer();
    return response.status;
  };

  before(async () => {
    hub = await startTestHub({ feeds: { allowPrivate: true, maxBytes: 64 * 1024, timeoutMs: 1500, tickMs: HOUR } });
    client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client));
    const { apiKey } = await (async () => {
      const key = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'bots' });
      return { apiKey: ((await key.json()) as { key: string }).key };
    })();
    const rule = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'path', value: '/private' });
    assert.equal(rule.status, 201, await rule.clone().text());
    // A rule on who asks, which a verified Googlebot allowed by its mode passes: a block of one of Google's networks.
    const claim = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '66.249.66.0/24' });
    assert.equal(claim.status, 201, await claim.clone().text());
    clientApp = await startWelcomeApp(hub.url, apiKey);
    port = clientApp.port;
  });

  after(async () => {
    await clientApp?.stop();
    await hub.stop();
  });

  it('one click per category reaches the client: verified Googlebot passes an IP block (not the path block), spoofed and AI crawlers get 403, browsers pass', async () => {
    // Nothing set yet: bots are not judged; the IP rule blocks that Google network.
    assert.equal(await get('/', GPTBOT, ELSEWHERE), 200);
    await until(async () => (await get('/', GOOGLEBOT, GOOGLE_IP)) === 403, 'the client to take the IP rule');

    const feed = await client.api('POST', '/api/feeds?wait=1', {
      name: 'googlebot ranges', format: 'crawlers', origin: 'upload', list: 'googlebot',
      content: JSON.stringify({ creationTime: '2026-11-30T00:00:00', prefixes: [{ ipv4Prefix: '66.249.64.0/19' }, { ipv6Prefix: '2001:4860:4801:10::/64' }] }),
    });
    assert.equal(feed.status, 201, await feed.clone().text());

    for (const [key, mode] of [['ai-crawler', 'block'], ['spoofed', 'block'], ['search-engine', 'allow']]) {
      const saved = await click(client, siteId, key!, mode!);
      assert.equal(saved.status, 303, await saved.clone().text());
      assert.equal(saved.headers.get('location'), `/sites/${siteId}/rules?done=bots-saved#bot-settings`);
    }
    const page = await (await client.request(`/sites/${siteId}/rules`)).text();
    assert.match(page, /<tr data-bot-key="ai-crawler">[\s\S]*?<span class="mode mode-block">block<\/span>/);
    assert.match(page, /<tr data-bot-key="search-engine">[\s\S]*?<span class="mode mode-allow">allow<\/span>/);
    assert.doesNotMatch(/<tr data-bot-key="spoofed">[\s\S]*?<\/tr>/.exec(page)![0], /value="allow"/, 'spoofed crawlers cannot be allowed');

    await until(async () => (await get('/', GPTBOT, ELSEWHERE)) === 403, 'the client to block GPTBot');
    await until(async () => (await get('/', GOOGLEBOT, GOOGLE_IP)) === 200, 'the client to verify Googlebot with the feed\'s ranges');
    assert.equal(await get('/', GOOGLEBOT, GOOGLE_V6), 200, 'verified over IPv6 too');
    assert.equal(await get('/private', GOOGLEBOT, GOOGLE_IP), 403, 'what a verified bot asks for is still judged');
    assert.equal(await get('/', GOOGLEBOT, ELSEWHERE), 403, 'Googlebot from elsewhere is spoofed');
    assert.equal(await get('/private', BROWSER, ELSEWHERE), 403, 'the path block still holds for everyone else');
    assert.equal(await get('/', BROWSER, ELSEWHERE), 200);

    // The decisions reach the hub under their categories.
    await until(async () => {
      const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as { rows: { category: string; treatment: string; rule: string }[] }).rows;
      const categories = new Set(rows.map((r) => `${r.treatment} ${r.category} ${r.rule}`));
      return categories.has('Blocked bot-spoofed googlebot') && categories.has('Blocked bot-ai-crawler gptbot') && categories.has('Allowed bot-search-engine googlebot');
    }, 'bot decisions in the hub\'s reports');

    // Each click is audited with before and after.
    const audit = await (await client.request(`/sites/${siteId}/rules`)).text();
    assert.match(audit, /bots\.update/);
  });

  it('a rules document imported with a bots section sets them; the export carries them; a bad one is refused whole', async () => {
    const document = { block: { paths: ['/private'] }, bots: { 'ai-crawler': 'monitor', seo: 'block', spoofed: 'block' } };
    const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document, replace: true });
    assert.equal(imported.status, 200, await imported.clone().text());
    const exported = (await (await client.request(`/api/sites/${siteId}/rules/export`)).json()) as { bots: Record<string, string> };
    assert.deepEqual(exported.bots, { 'ai-crawler': 'monitor', seo: 'block', spoofed: 'block' });
    const bad = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { bots: { spoofed: 'allow' } }, replace: true });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /cannot be allowed/);
    // A one-click post with a category that does not exist is refused, nothing stored.
    const page = await (await client.request(`/sites/${siteId}/rules`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const refused = await client.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: csrf, key: 'robots', mode: 'block' } });
    assert.equal(refused.status, 400);
    const after = (await (await client.request(`/api/sites/${siteId}/rules/export`)).json()) as { bots: Record<string, string> };
    assert.deepEqual(after.bots, { 'ai-crawler': 'monitor', seo: 'block', spoofed: 'block' });
  });
});
