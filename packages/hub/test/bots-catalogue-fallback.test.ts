// A bot catalogue an older hub accepted, which today's stricter checks refuse (a three-letter token that
// browsers' user agents may hold), is in force in the store. The hub compiles sites with the shipped
// catalogue instead — the safe choice — and says so: counted, logged once, and shown as the feed source's
// error (the API and the Data page), where a held copy is shown, also after the feed answers 304.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { normalizeBotCatalogue } from 'moat-waf';
import { catalogueIdentity } from '../src/feeds/bot-catalogue-check.js';
import { shippedCatalogue } from '../src/feeds/bot-catalogue-in-force.js';
import { FeedServer } from './feeds-server.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';

const HOUR = 3_600_000;
const SHIPPED = JSON.parse(readFileSync(new URL('../../moat/data/bots.json', import.meta.url), 'utf8')) as { bots: object[] };
const catalogue = (extra: object) => ({ version: 1, updated: '2026-12-02-feed', bots: [...SHIPPED.bots, extra] });
/** Passes moat-waf's own rules (tokens of three characters or more), not the hub's of today (four or more). */
const STALE = catalogue({ id: 'mozbot', name: 'MozBot', category: 'seo', tokens: ['moz'] });

interface Source { id: number; status: string; lastError: string | null }
interface CatalogueState { inForce: { hash: string; problem: string | null }; counters: { fallbacks: number } }

describe('a stored bot catalogue that fails today\'s checks', () => {
  const feeds = new FeedServer();
  const logLines: string[] = [];
  let hub: TestHub;
  let client: Client;
  let siteId = 0;
  let sourceId = 0;
  let staleVersion = 0;

  const state = async () => (await (await client.api('GET', '/api/bot-catalogue')).json()) as CatalogueState;
  const source = async () => ((await (await client.api('GET', `/api/feeds/${sourceId}`)).json()) as { source: Source }).source;
  const fallbackLogs = () => logLines.filter((line) => line.includes(`catalogue version ${staleVersion} does not read`));
  const addRule = async (value: string) => {
    const created = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'path', value, mode: 'block' });
    assert.equal(created.status, 201, await created.clone().text());
  };

  before(async () => {
    await feeds.start();
    hub = await startTestHub({
      feeds: { allowPrivate: true, timeoutMs: 4000, tickMs: HOUR },
      logger: { level: 'warn', stream: { write: (line) => { logLines.push(line); } } },
    });
    client = new Client(hub.url);
    await client.login();
    ({ siteId } = await createSiteWithKey(client));
    // Bot settings, so every compile of the site reads the catalogue in force.
    const page = await (await client.request(`/sites/${siteId}/rules`)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const saved = await client.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: csrf, key: 'ai-crawler', mode: 'block' } });
    assert.equal(saved.status, 303);
    // A bots feed whose copy this hub accepts.
    feeds.serve('/bots.json', JSON.stringify(catalogue({ id: 'examplebot', name: 'ExampleBot', category: 'ai-crawler', tokens: ['examplebot'] })));
    const created = await client.api('POST', '/api/feeds?wait=1', { name: 'bot catalogue', format: 'bots', origin: 'url', url: `${feeds.base}/bots.json` });
    assert.equal(created.status, 201, await created.clone().text());
    const made = ((await created.json()) as { source: Source }).source;
    assert.equal(made.status, 'ok', made.lastError ?? '');
    sourceId = made.id;
    // Then the copy an older hub of the fleet accepted from the same source, before the stricter checks.
    const stale = catalogueIdentity(normalizeBotCatalogue(STALE));
    const entry = await hub.store.botCatalogues.add({
      state: 'accepted', content: stale.json, hash: stale.hash, source: 'bot catalogue', sourceId, fetchedAt: 1, recordedAt: 1,
      bots: STALE.bots.length, edition: STALE.updated, diff: { added: 1, removed: 0, changed: 0, addedIds: ['mozbot'], removedIds: [], changedIds: [] },
    });
    staleVersion = entry.version;
  });

  after(async () => {
    await hub?.stop();
    await feeds.stop();
  });

  it('compiling a site falls back to the shipped catalogue, and the hub counts it, logs it once and shows it on the feed source', async () => {
    await addRule('/first'); // a compile: the first reading of the stored catalogue since it was added
    const now = await state();
    assert.equal(now.inForce.hash, shippedCatalogue().hash, 'the shipped catalogue is used: the safe choice');
    assert.match(now.inForce.problem ?? '', new RegExp(`catalogue version ${staleVersion} does not read .*"moz".*the shipped catalogue is used`));
    assert.equal(now.counters.fallbacks, 1, 'counted');
    assert.equal(fallbackLogs().length, 1, 'logged');
    const shown = await source();
    assert.equal(shown.status, 'error', 'the feed source no longer reads ok');
    assert.match(shown.lastError ?? '', new RegExp(`catalogue version ${staleVersion} does not read .*revert to the shipped catalogue`));
    const dataPage = await (await client.request('/data')).text();
    assert.match(/<dd class="catalogue-error">([\s\S]*?)<\/dd>/.exec(dataPage)?.[1] ?? '', /does not read/, 'on the Data page\'s feed line');
  });

  it('once: later compiles and reads neither count nor log it again', async () => {
    await addRule('/second');
    await state();
    await (await client.request('/data')).text();
    assert.equal((await state()).counters.fallbacks, 1);
    assert.equal(fallbackLogs().length, 1);
    assert.ok(fallbackLogs()[0]!.length < 1000, 'a bounded line');
  });

  it('a refresh that finds the feed unchanged (304) leaves the source showing the fallback', async () => {
    const before = feeds.requests('/bots.json').length;
    const done = await client.api('POST', `/api/feeds/${sourceId}/refresh?wait=1`);
    assert.equal(done.status, 200, await done.clone().text());
    assert.equal(feeds.requests('/bots.json').length, before + 1);
    assert.ok(feeds.requests('/bots.json').at(-1)!.ifNoneMatch, 'a conditional GET');
    const shown = await source();
    assert.equal(shown.status, 'error');
    assert.match(shown.lastError ?? '', /does not read/);
  });
});
