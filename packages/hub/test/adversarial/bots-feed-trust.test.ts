// What a bot catalogue feed and a crawler-ranges feed may claim, attacked on a real hub (SQLite, feeds
// served over HTTP on 127.0.0.1) with a managed Moat client in front of a real app. The site allows
// verified search engines, blocks spoofed crawlers and AI crawlers, and blocks the `aws` list. A hostile
// catalogue that verifies Googlebot (or a new "search engine" whose token every browser sends) by the
// AWS list would let any browser on AWS through and call every other browser a spoofed crawler; a
// crawler feed holding 0.0.0.0/0 would make every address Google's. Each must be refused or held, with
// the reason on the feed's status, and the client must keep deciding as before.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FeedServer } from '../feeds-server.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { until } from '../support/until.js';
import { startWelcomeApp, type WelcomeApp } from '../support/welcome-app.js';

const HOUR = 3_600_000;
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const GPTBOT = 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const AWS_ADDRESS = '3.1.2.3';
const GOOGLE_ADDRESS = '66.249.66.1';
const ELSEWHERE = '203.0.113.9';

type Bot = { id: string; name?: string; category: string; tokens: string[]; verify?: string };
const SHIPPED = JSON.parse(readFileSync(new URL('../../../moat/data/bots.json', import.meta.url), 'utf8')) as { bots: Bot[] };

/** The shipped catalogue with `change` applied to each bot, plus `extra`, as a feed host would publish it. */
function catalogue(change: (bot: Bot) => Bot = (b) => b, extra: Bot[] = []): string {
  return JSON.stringify({ version: 1, updated: '2026-12-09-feed', bots: [...SHIPPED.bots.map(change), ...extra] });
}

/** googlebot.json as Google publishes it: twenty /27s of 66.249.64.0/19, then `more`. */
function googlebotJson(more: string[] = []): string {
  const real = Array.from({ length: 20 }, (_, i) => `66.249.${64 + (i >> 3)}.${(i & 7) * 32}/27`);
  return JSON.stringify({ creationTime: '2026-12-01T00:00:00.000000', prefixes: [...real, ...more].map((p) => (p.includes(':') ? { ipv6Prefix: p } : { ipv4Prefix: p })) });
}

interface Source { id: number; status: string; lastError: string | null; entries: number | null }
interface CatalogueState { inForce: { hash: string; bots: number }; held: { version: number; bots: number } | null }

describe('catalogue and crawler feeds cannot widen who passes as a verified bot', () => {
  const feeds = new FeedServer();
  let hub: TestHub;
  let client: Client;
  let clientApp: WelcomeApp | undefined;
  let port = 0;
  let catalogueId = 0;
  let crawlerId = 0;
  let inForce = '';

  const get = async (userAgent: string, ip: string): Promise<number> => {
    const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': userAgent, 'x-forwarded-for': ip } });
    await response.arrayBuffer();
    return response.status;
  };
  const state = async (): Promise<CatalogueState> => (await (await client.api('GET', '/api/bot-catalogue')).json()) as CatalogueState;
  const refresh = async (id: number): Promise<Source> => {
    const done = await client.api('POST', `/api/feeds/${id}/refresh?wait=1`);
    assert.equal(done.status, 200, await done.clone().text());
    return ((await done.json()) as { source: Source }).source;
  };
  /** The decisions the site's settings call for, with the shipped catalogue and Google's real ranges. */
  async function clientDecidesAsBefore(): Promise<void> {
    assert.equal(await get(GOOGLEBOT, GOOGLE_ADDRESS), 200, 'Googlebot from its ranges is verified');
    assert.equal(await get(GOOGLEBOT, AWS_ADDRESS), 403, 'Googlebot from AWS is spoofed');
    assert.equal(await get(BROWSER, AWS_ADDRESS), 403, 'a browser on AWS meets the aws list block');
    assert.equal(await get(BROWSER, ELSEWHERE), 200, 'a browser elsewhere passes');
    assert.equal(await get(GPTBOT, ELSEWHERE), 403, 'GPTBot is an AI crawler, blocked');
  }
  /** The catalogue feed now serves `body`: refused, its status saying each of `why`; nothing changes for the client. */
  async function catalogueRefused(body: string, ...why: string[]): Promise<void> {
    feeds.serve('/bots.json', body);
    const source = await refresh(catalogueId);
    assert.equal(source.status, 'error');
    const shown = source.lastError ?? '';
    assert.ok(shown.startsWith('rejected: '), shown);
    for (const reason of why) assert.ok(shown.includes(reason), `${JSON.stringify(reason)} in ${JSON.stringify(shown)}`);
    const now = await state();
    assert.equal(now.inForce.hash, inForce, 'the catalogue in force stays');
    assert.equal(now.held, null, 'nothing is held either');
    await clientDecidesAsBefore();
  }

  before(async () => {
    await feeds.start();
    hub = await startTestHub({ feeds: { allowPrivate: true, timeoutMs: 4000, tickMs: HOUR } });
    client = new Client(hub.url);
    await client.login();
    const { siteId } = await createSiteWithKey(client);
    const key = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'bots-trust' });
    const apiKey = ((await key.json()) as { key: string }).key;
    const rule = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'list', value: 'aws' });
    assert.equal(rule.status, 201, await rule.clone().text());
    for (const [setting, mode] of [['search-engine', 'allow'], ['spoofed', 'block'], ['ai-crawler', 'block']] as const) {
      const page = await (await client.request(`/sites/${siteId}/rules`)).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
      const saved = await client.request(`/sites/${siteId}/bots`, { method: 'POST', form: { _csrf: csrf, key: setting, mode } });
      assert.equal(saved.status, 303, await saved.clone().text());
    }
    const aws = await client.api('POST', '/api/feeds?wait=1', {
      name: 'aws ranges', format: 'aws', origin: 'upload', list: 'aws',
      content: JSON.stringify({ syncToken: '1', prefixes: [{ ip_prefix: '3.0.0.0/9', region: 'us-east-1', service: 'EC2' }], ipv6_prefixes: [] }),
    });
    assert.equal(aws.status, 201, await aws.clone().text());
    feeds.serve('/googlebot.json', googlebotJson());
    const crawler = await client.api('POST', '/api/feeds?wait=1', { name: 'googlebot ranges', format: 'crawlers', origin: 'url', url: `${feeds.base}/googlebot.json`, list: 'googlebot' });
    assert.equal(crawler.status, 201, await crawler.clone().text());
    crawlerId = ((await crawler.json()) as { source: Source }).source.id;
    feeds.serve('/bots.json', catalogue());
    const bots = await client.api('POST', '/api/feeds?wait=1', { name: 'bot catalogue', format: 'bots', origin: 'url', url: `${feeds.base}/bots.json` });
    assert.equal(bots.status, 201, await bots.clone().text());
    catalogueId = ((await bots.json()) as { source: Source }).source.id;
    inForce = (await state()).inForce.hash;

    clientApp = await startWelcomeApp(hub.url, apiKey);
    port = clientApp.port;
    await until(async () => (await get(GOOGLEBOT, AWS_ADDRESS)) === 403 && (await get(BROWSER, AWS_ADDRESS)) === 403, 'the client to load both files');
  });

  after(async () => {
    await clientApp?.stop();
    await hub?.stop();
    await feeds.stop();
  });

  it('the site decides as configured: verified Googlebot passes, spoofed Googlebot, AWS and GPTBot are blocked', async () => {
    await clientDecidesAsBefore();
  });

  it('a catalogue verifying Googlebot by the aws list, plus a "search engine" with token "moz", is refused naming both', async () => {
    const hostile = catalogue((b) => (b.id === 'googlebot' ? { ...b, verify: 'aws' } : b), [{ id: 'mozbot', category: 'search-engine', tokens: ['moz'], verify: 'aws' }]);
    await catalogueRefused(hostile, 'bot "googlebot": verify list "aws" is not a crawler list', 'bot "mozbot": token "moz" is shorter than 4 characters',
      'bot "mozbot": verify list "aws" is not a crawler list');
  });

  it('a new bot verified by a cloud provider\'s list is refused, even with a token of its own', async () => {
    for (const list of ['aws', 'gcp', 'azure', 'my-office']) {
      await catalogueRefused(catalogue(undefined, [{ id: 'examplebot', category: 'search-engine', tokens: ['examplebot'], verify: list }]),
        `bot "examplebot": verify list "${list}" is not a crawler list`);
    }
  });

  it('a new bot whose token ordinary browsers send is refused, whatever the browser version', async () => {
    for (const token of ['mozilla', 'Chrome/132', 'applewebkit/537', '(KHTML, like Gecko)', 'Safari/', 'gecko/2010', 'edg/', 'iphone os 19',
      'cros', '; wv)', 'fxios', 'ubuntu', 'edga/', 'gsa/', 'yabrowser', 'aarch64', 'instagram', 'fban/']) {
      await catalogueRefused(catalogue(undefined, [{ id: 'examplebot', category: 'search-engine', tokens: [token], verify: 'googlebot' }]),
        `bot "examplebot": token ${JSON.stringify(token.toLowerCase())} is in the user agents of ordinary browsers`);
    }
    await catalogueRefused(catalogue(undefined, [{ id: 'examplebot', category: 'seo', tokens: ['compatible;'] }]), 'token "compatible;" is part of "compatible"');
  });

  it('moving Googlebot onto another crawler list is held for an admin; dismissed, the same copy is not held again', async () => {
    feeds.serve('/bots.json', catalogue((b) => (b.id === 'googlebot' ? { ...b, verify: 'bingbot' } : b)));
    const source = await refresh(catalogueId);
    assert.match(source.lastError ?? '', /^held for confirmation: it changes how bots in force are verified, classed or claimed \(googlebot verify googlebot → bingbot\)/);
    const held = (await state()).held;
    assert.ok(held, 'a copy is held');
    assert.equal((await state()).inForce.hash, inForce);
    await clientDecidesAsBefore();
    assert.equal((await client.api('POST', `/api/bot-catalogue/held/${held.version}/dismiss`)).status, 200);
    assert.match((await refresh(catalogueId)).lastError ?? '', /dismissed by an admin/);
    assert.equal((await state()).held, null);
  });

  it('a crawler feed that adds 0.0.0.0/0 and ::/0 to Google\'s ranges has them skipped: Googlebot from AWS stays spoofed', async () => {
    const latest = async () => ((await (await client.api('GET', '/api/feeds/versions?limit=1')).json()) as { versions: { version: number }[] }).versions[0]!.version;
    const before = await latest();
    feeds.serve('/googlebot.json', googlebotJson(['0.0.0.0/0', '::/0']));
    const source = await refresh(crawlerId);
    assert.equal(source.status, 'ok', source.lastError ?? '');
    assert.equal(source.entries, 20, 'the two wide prefixes are not among the entries used');
    assert.equal(await latest(), before, 'the data file is the same: no new version to download');
    await clientDecidesAsBefore();
  });

  it('a crawler feed of only wide prefixes is refused with the range named; the last good copy stays', async () => {
    feeds.serve('/googlebot.json', googlebotJson().replace(/"prefixes":\[.*\]/, '"prefixes":[{"ipv4Prefix":"0.0.0.0/0"},{"ipv4Prefix":"1.0.0.0/1"},{"ipv6Prefix":"::/0"}]'));
    const source = await refresh(crawlerId);
    assert.equal(source.status, 'error');
    assert.match(source.lastError ?? '', /0\.0\.0\.0\/0 is wider than \/16/);
    await clientDecidesAsBefore();
  });

  it('a plain list named after a crawler list gets the same limit: 0.0.0.0/0 for bingbot is refused', async () => {
    const made = await client.api('POST', '/api/feeds?wait=1', { name: 'bing ranges', format: 'ip-list', origin: 'upload', list: 'bingbot', content: '157.55.39.0/24\n0.0.0.0/0\n' });
    assert.equal(made.status, 201, await made.clone().text());
    const source = ((await made.json()) as { source: Source }).source;
    assert.equal(source.status, 'error');
    assert.match(source.lastError ?? '', /1 of 2 entries are invalid \(0\.0\.0\.0\/0 is wider than \/16/);
  });

  /** The catalogue feed now serves `body`: held for an admin with `reason`, then dismissed; nothing changes meanwhile. */
  async function catalogueHeld(body: string, reason: RegExp): Promise<void> {
    feeds.serve('/bots.json', body);
    const source = await refresh(catalogueId);
    assert.match(source.lastError ?? '', reason);
    const held = (await state()).held;
    assert.ok(held, 'a copy is held');
    assert.equal((await state()).inForce.hash, inForce);
    await clientDecidesAsBefore();
    assert.equal((await client.api('POST', `/api/bot-catalogue/held/${held.version}/dismiss`)).status, 200);
  }

  it('renaming a bot does not dodge the hold: GPTBot\'s token under a new id in search engines, Googlebot\'s under one verified by Bing', async () => {
    const renamed = catalogue((b) => (b.id === 'gptbot' ? { ...b, id: 'gpt-bot', category: 'search-engine' } : b));
    await catalogueHeld(renamed, /^held for confirmation: .*"gptbot" moves from gptbot to gpt-bot/);
    const moved = catalogue((b) => (b.id === 'googlebot' ? { ...b, tokens: b.tokens.filter((t) => t !== 'googlebot') } : b),
      [{ id: 'googlebot-new', category: 'search-engine', tokens: ['googlebot'], verify: 'bingbot' }]);
    await catalogueHeld(moved, /"googlebot" moves from googlebot to googlebot-new/);
  });

  it('a new bot verified by a crawler list is held: every sender of its token outside that list would become spoofed', async () => {
    await catalogueHeld(catalogue(undefined, [{ id: 'examplebot', category: 'search-engine', tokens: ['examplebot'], verify: 'googlebot' }]),
      /^held for confirmation: .*examplebot newly claims "examplebot", verified by googlebot/);
    // Without `verify` it names a bot and classes it, and applies as before (docs/bots.md: examplebot in ai-crawler).
  });

  it('a crawler range over the IPv4-mapped block (::/80, ::ffff:0:0/95) is skipped: it would be every IPv4 address in the data file', async () => {
    // One at a time among Google's twenty: more than a tenth of the entries invalid would reject the copy.
    for (const range of ['::/80', '::ffff:0:0/95', '::fffe:0:0-::ffff:ffff:ffff']) {
      feeds.serve('/googlebot.json', googlebotJson([range]));
      const source = await refresh(crawlerId);
      assert.equal(source.status, 'ok', source.lastError ?? '');
      assert.equal(source.entries, 20, `${range} is not among the entries used`);
      await clientDecidesAsBefore();
    }
  });

  it('a crawler feed of many narrow ranges adding up to a /8 (256 adjacent /16s of AWS) is refused; the last good copy stays', async () => {
    feeds.serve('/googlebot.json', googlebotJson(Array.from({ length: 256 }, (_, i) => `3.${i}.0.0/16`)));
    const source = await refresh(crawlerId);
    assert.equal(source.status, 'error');
    assert.match(source.lastError ?? '', /its IPv4 ranges add up to more addresses than one \/16/);
    await clientDecidesAsBefore();
    // A second source feeding the same list is bounded with the first: one /16 is within the bound alone,
    // not beside Google's twenty /27s, so its copy is left out and the list stays Google's.
    const extra = await client.api('POST', '/api/feeds?wait=1', {
      name: 'more googlebot', format: 'ip-list', origin: 'upload', list: 'googlebot', content: '3.0.0.0/16\n',
    });
    assert.equal(extra.status, 201, await extra.clone().text());
    const second = ((await extra.json()) as { source: Source }).source;
    assert.equal(second.status, 'error');
    assert.match(second.lastError ?? '', /with the other sources of list "googlebot": its IPv4 ranges add up/);
    await clientDecidesAsBefore();
  });

  it('moving GPTBot into search engines is held, and applies only when an admin confirms it', async () => {
    feeds.serve('/bots.json', catalogue((b) => (b.id === 'gptbot' ? { ...b, category: 'search-engine' } : b)));
    const source = await refresh(catalogueId);
    assert.match(source.lastError ?? '', /held for confirmation: .*gptbot category ai-crawler → search-engine/);
    assert.equal(await get(GPTBOT, ELSEWHERE), 403, 'still an AI crawler while held');
    const held = (await state()).held!;
    const confirmed = await client.api('POST', `/api/bot-catalogue/held/${held.version}/confirm`);
    assert.equal(confirmed.status, 200, await confirmed.clone().text());
    // Now a search engine (allowed only when verified, and the data file has no gptbot list): no longer blocked.
    await until(async () => (await get(GPTBOT, ELSEWHERE)) === 200, 'the client to use the confirmed catalogue');
  });
});
