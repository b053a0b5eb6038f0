// The bot catalogue as a hub feed, attacked the way a compromised or broken feed host would: every bad
// copy (HTML, a shared token, prototype keys, a stall, ten times the size cap, a catalogue gutted to a
// few bots) must leave the catalogue in force untouched, show why on the Data page, and never reach a
// client. A good copy must reach a managed Moat client on a real socket, which then blocks the new bot by
// its category; the admin can go back to the shipped catalogue in one click. All audited.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FeedServer } from '../feeds-server.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { until } from '../support/until.js';
import { startWelcomeApp, type WelcomeApp } from '../support/welcome-app.js';

const HOUR = 3_600_000;
const EXAMPLEBOT = 'ExampleBot/1.0';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SHIPPED = JSON.parse(readFileSync(new URL('../../../moat/data/bots.json', import.meta.url), 'utf8')) as { updated: string; bots: { id: string; tokens: string[] }[] };

/** The shipped catalogue plus `extra` bots, as a feed host would publish it. */
function catalogue(extra: object[], base = SHIPPED.bots): string {
  return JSON.stringify({ version: 1, updated: '2026-12-02-feed', about: 'test feed', bots: [...base, ...extra] });
}
const EXAMPLE = { id: 'examplebot', name: 'ExampleBot', category: 'ai-crawler', tokens: ['examplebot'] };

interface Source { id: number; status: string; lastError: string | null; entries: number | null }
interface CatalogueState { inForce: { hash: string; bots: number; source: string; version: number | null }; held: { version: number; bots: number } | null }

describe('the bot catalogue feed under attack', () => {
  const feeds = new FeedServer();
  let hub: TestHub;
  let client: Client;
  let siteId = 0;
  let clientApp: WelcomeApp | undefined;
  let port = 0;
  let sourceId = 0;
  let goodHash = '';

  const get = async (userAgent: string): Promise<number> => {
    const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': userAgent, 'x-forwarded-for': '203.0.113.9' } });
    await response.arrayBuffer();
    return response.status;
  };
  const state = async (): Promise<CatalogueState> => (await (await client.api('GET', '/api/bot-catalogue')).json()) as CatalogueState;
  const source = async (): Promise<Source> => ((await (await client.api('GET', `/api/feeds/${sourceId}`)).json()) as { source: Source }).source;
  const refresh = async (): Promise<Source> => {
    const done = await client.api('POST', `/api/feeds/${sourceId}/refresh?wait=1`);
    assert.equal(done.status, 200, await done.clone().text());
    return ((await done.json()) as { source: Source }).source;
  };
  const dataPage = async (): Promise<string> => (await client.request('/data')).text();
  const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)![1]!;

  /** The feed now serves `body`; a refresh must refuse it, keep the good catalogue, and say `why` on the Data page. */
  async function refusedKeepsGood(why: RegExp): Promise<void> {
    const after = await refresh();
    assert.equal(after.status, 'error');
    assert.match(after.lastError ?? '', why);
    assert.equal((await state()).inForce.hash, goodHash, 'the last good catalogue stays in force');
    assert.equal(await get(EXAMPLEBOT), 403, 'the client still blocks ExampleBot with the good catalogue');
    const page = await dataPage();
    const section = /<section class="card" id="bot-catalogue"[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    assert.match(section, new RegExp(`data-catalogue-hash="${goodHash}"`));
    const shown = (/<dd class="catalogue-error">([\s\S]*?)<\/dd>/.exec(section)?.[1] ?? '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    assert.match(shown, why, 'the error shows on the Data page');
  }

  before(async () => {
    await feeds.start();
    hub = await startTestHub({ feeds: { allowPrivate: true, timeoutMs: 4000, tickMs: HOUR } });
    client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client));
    const key = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'bots-feed' });
    const apiKey = ((await key.json()) as { key: string }).key;
    // AI crawlers blocked by category: a bot the feed adds to that category is blocked with no other change.
    const page = await (await client.request(`/sites/${siteId}/rules`)).text();
    const saved = await client.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: csrfOf(page), key: 'ai-crawler', mode: 'block' } });
    assert.equal(saved.status, 303, await saved.clone().text());
    clientApp = await startWelcomeApp(hub.url, apiKey, { dataIntervalMs: 60_000 });
    port = clientApp.port;
  });

  after(async () => {
    await clientApp?.stop();
    await hub?.stop();
    await feeds.stop();
  });

  it('a bots feed adding examplebot reaches the rules file: a managed client blocks ExampleBot/1.0 as an AI crawler', async () => {
    await until(async () => (await get(BROWSER)) === 200, 'the client to load its first rules file');
    assert.equal(await get(EXAMPLEBOT), 200, 'the shipped catalogue does not know ExampleBot');
    const shippedHash = (await state()).inForce.hash;

    feeds.serve('/bots.json', catalogue([EXAMPLE]));
    const created = await client.api('POST', '/api/feeds?wait=1', { name: 'bot catalogue', format: 'bots', origin: 'url', url: `${feeds.base}/bots.json` });
    assert.equal(created.status, 201, await created.clone().text());
    const made = ((await created.json()) as { source: Source }).source;
    sourceId = made.id;
    assert.equal(made.status, 'ok', made.lastError ?? '');
    assert.equal(made.entries, SHIPPED.bots.length + 1);
    const now = await state();
    assert.notEqual(now.inForce.hash, shippedHash);
    assert.equal(now.inForce.source, 'bot catalogue');
    assert.equal(now.inForce.bots, SHIPPED.bots.length + 1);
    goodHash = now.inForce.hash;
    assert.ok(hub.feeds.bots.counters.lastCheckThreadId > 0, 'the copy was parsed in a worker, not on the hub\'s event loop (thread 0)');

    await until(async () => (await get(EXAMPLEBOT)) === 403, 'the client to block ExampleBot');
    assert.equal(await get(BROWSER), 200, 'browsers still pass');
    await until(async () => {
      const rows = ((await (await client.api('GET', `/api/sites/${siteId}/requests?limit=200`)).json()) as { rows: { category: string; treatment: string; rule: string }[] }).rows;
      return rows.some((r) => r.treatment === 'Blocked' && r.category === 'bot-ai-crawler' && r.rule === 'examplebot');
    }, 'the ExampleBot block reported under its category');

    // The Data page shows the source, count, hash and the diff against the shipped catalogue.
    const page = await dataPage();
    assert.match(page, /<dd class="catalogue-bots">\d+<\/dd>/);
    assert.match(page, new RegExp(`<code class="catalogue-hash">${goodHash.slice(0, 16)}</code>`));
    assert.match(page, /<p class="catalogue-added">Added \(1\): <code>examplebot<\/code>/);
  });

  it('the same copy fetched again is a conditional GET and changes nothing', async () => {
    const before = feeds.requests('/bots.json').length;
    const again = await refresh();
    assert.equal(again.status, 'ok');
    assert.ok(feeds.requests('/bots.json').slice(before).some((r) => r.ifNoneMatch !== undefined), 'validators sent');
    assert.equal((await state()).inForce.hash, goodHash);
  });

  it('a catalogue feed that turns into an HTML error page is refused; the last good catalogue stays', async () => {
    feeds.serve('/bots.json', '<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>');
    await refusedKeepsGood(/HTML/);
  });

  it('a catalogue where a new bot claims the token "googlebot" (a shared token) is refused', async () => {
    feeds.serve('/bots.json', catalogue([{ ...EXAMPLE, tokens: ['examplebot', 'googlebot'] }]));
    await refusedKeepsGood(/token "googlebot" is also/);
  });

  it('a catalogue with a two-letter token, which would match ordinary browsers, is refused', async () => {
    feeds.serve('/bots.json', catalogue([{ ...EXAMPLE, tokens: ['mo'] }]));
    await refusedKeepsGood(/a token must be 3 to/);
  });

  it('a catalogue carrying __proto__ keys is refused, and nothing is polluted', async () => {
    const text = catalogue([EXAMPLE]).replace(/^\{/, '{"__proto__":{"polluted":"yes"},');
    feeds.serve('/bots.json', text);
    await refusedKeepsGood(/"__proto__" is not allowed/);
    assert.equal(({} as { polluted?: string }).polluted, undefined);
    // The same inside a bot entry.
    feeds.serve('/bots.json', catalogue([EXAMPLE]).replace('"id":"examplebot"', '"__proto__":{"verify":"googlebot"},"id":"examplebot"'));
    await refusedKeepsGood(/"__proto__" is not allowed/);
  });

  it('a catalogue naming a bot "constructor" (a key every JavaScript object has) is refused', async () => {
    feeds.serve('/bots.json', catalogue([{ ...EXAMPLE, id: 'constructor' }]));
    await refusedKeepsGood(/reserved word/);
  });

  it('a catalogue feed that stalls is cut off at the timeout; the last good catalogue stays', async () => {
    feeds.handle('/bots.json', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"bots": [');
      // Never finishes: the fetch deadline (4 s in this hub) must end it.
    });
    await refusedKeepsGood(/timeout/);
  });

  it('a catalogue feed ten times the 1 MiB cap is refused at the cap, never parsed', async () => {
    const huge = catalogue([EXAMPLE]).replace('"about":"test feed"', `"about":"${'x'.repeat(10 * 1024 * 1024)}"`);
    feeds.serve('/bots.json', huge);
    await refusedKeepsGood(/too_large|over the/);
  });

  it('a catalogue gutted to three bots is held, not applied; a dismissed one is not held again', async () => {
    feeds.serve('/bots.json', catalogue([EXAMPLE], SHIPPED.bots.slice(0, 2)));
    const held = await refresh();
    assert.equal(held.status, 'error');
    assert.match(held.lastError ?? '', /held for confirmation/);
    const now = await state();
    assert.equal(now.inForce.hash, goodHash, 'the catalogue in force stays');
    assert.equal(now.held?.bots, 3);
    assert.equal(await get(EXAMPLEBOT), 403);
    const page = await dataPage();
    assert.match(page, new RegExp(`<div class="notice catalogue-held" data-held-version="${now.held!.version}">`));
    assert.match(page, /<p class="catalogue-removed">Removed \(\d+\)/);

    const dismissed = await client.request(`/data/bot-catalogue/held/${now.held!.version}/dismiss`, { method: 'POST', form: { _csrf: csrfOf(page) } });
    assert.equal(dismissed.status, 303);
    assert.equal((await state()).held, null);
    const again = await refresh();
    assert.match(again.lastError ?? '', /dismissed by an admin/);
    assert.equal((await state()).held, null, 'the same gutted copy is not held again');
    assert.equal((await state()).inForce.hash, goodHash);
  });

  it('a held catalogue is applied only when an admin confirms it, to every site; a setting for a bot it drops switches nothing else off', async () => {
    // As a rules import would store it: a category and a bot id (gptbot) the confirmed catalogue no longer names.
    await hub.store.saveBotSettings(siteId, JSON.stringify({ 'ai-crawler': 'block', gptbot: 'block' }), Math.floor(Date.now() / 1000));
    feeds.serve('/bots.json', catalogue([EXAMPLE], SHIPPED.bots.slice(0, 3)));
    await refresh();
    const held = (await state()).held;
    assert.equal(held?.bots, 4);
    assert.equal((await state()).inForce.hash, goodHash);
    const confirmed = await client.api('POST', `/api/bot-catalogue/held/${held!.version}/confirm`);
    assert.equal(confirmed.status, 200, await confirmed.clone().text());
    const now = await state();
    assert.equal(now.inForce.bots, 4);
    assert.equal(now.held, null);
    assert.equal((await client.api('POST', `/api/bot-catalogue/held/${held!.version}/confirm`)).status, 409, 'a decision is taken once');
    await until(async () => (await get('Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)')) === 200, 'the client to use the confirmed catalogue (no GPTBot in it)');
    assert.equal(await get(EXAMPLEBOT), 403, 'the site\'s ai-crawler block still holds');
  });

  it('a second bots source cannot take over the catalogue', async () => {
    const second = await client.api('POST', '/api/feeds', { name: 'other catalogue', format: 'bots', origin: 'upload', content: catalogue([]) });
    assert.equal(second.status, 409);
    assert.match(await second.text(), /already comes from bot catalogue/);
  });

  it('reverting to the shipped catalogue is one click: the client stops knowing ExampleBot; every change is audited', async () => {
    const page = await dataPage();
    assert.match(page, /action="\/data\/bot-catalogue\/revert"/);
    const reverted = await client.request('/data/bot-catalogue/revert', { method: 'POST', form: { _csrf: csrfOf(page) } });
    assert.equal(reverted.status, 303);
    assert.equal(reverted.headers.get('location'), '/data?done=catalogue-reverted#bot-catalogue');
    const now = await state();
    assert.equal(now.inForce.source, 'shipped');
    assert.equal(now.inForce.bots, SHIPPED.bots.length);
    await until(async () => (await get(EXAMPLEBOT)) === 200, 'the client to drop ExampleBot');
    assert.equal(await get('Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)'), 403, 'shipped AI crawlers are still blocked');

    const audit = (await (await client.api('GET', '/api/audit?limit=50')).json()) as { entries: { action: string; userEmail: string | null }[] };
    const actions = audit.entries.map((e) => e.action);
    for (const action of ['bots.catalogue.accept', 'bots.catalogue.hold', 'bots.catalogue.dismiss', 'bots.catalogue.confirm', 'bots.catalogue.revert']) {
      assert.ok(actions.includes(action), `${action} is in the audit log (${actions.join(', ')})`);
    }
  });
  it('a catalogue uploaded at 2 MiB through the API is refused unread; the catalogue in force stays', async () => {
    assert.equal((await client.api('DELETE', `/api/feeds/${sourceId}?wait=1`)).status, 204);
    const created = await client.api('POST', '/api/feeds', { name: 'uploaded catalogue', format: 'bots', origin: 'upload' });
    assert.equal(created.status, 201, await created.clone().text());
    const id = ((await created.json()) as { source: Source }).source.id;
    const huge = catalogue([EXAMPLE]).replace('"about":"test feed"', `"about":"${'x'.repeat(2 * 1024 * 1024)}"`);
    const sent = await client.request(`/api/feeds/${id}/file?wait=1`, { method: 'PUT', body: huge, headers: { 'content-type': 'text/plain', 'x-csrf-token': client.csrf } });
    assert.equal(sent.status, 200, await sent.clone().text());
    const after = ((await sent.json()) as { source: Source }).source;
    assert.equal(after.status, 'error');
    assert.match(after.lastError ?? '', /over the 1048576-byte cap/);
    assert.equal((await state()).inForce.source, 'shipped');
  });
});
