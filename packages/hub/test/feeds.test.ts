// Feeds managed by the hub, end to end over real sockets: a feed server on 127.0.0.1 → the hub fetches,
// checks and builds the data file in a worker → a managed Moat client downloads it and decides with it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManagedFirewall, type ManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';
import type { FeedSource, FeedVersion } from '../src/store/feed-records.js';
import { FeedServer, ipList } from './feeds-server.js';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { until } from './support/until.js';

const HOUR = 3_600_000;

type SourceView = FeedSource & { ageSeconds: number | null };

async function addFeed(client: Client, body: Record<string, unknown>): Promise<SourceView> {
  const response = await client.api('POST', '/api/feeds?wait=1', body);
  assert.equal(response.status, 201, await response.clone().text());
  return ((await response.json()) as { source: SourceView }).source;
}

async function refresh(client: Client, id: number): Promise<SourceView> {
  const response = await client.api('POST', `/api/feeds/${id}/refresh?wait=1`);
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { source: SourceView }).source;
}

async function versions(client: Client): Promise<FeedVersion[]> {
  return ((await (await client.api('GET', '/api/feeds')).json()) as { versions: FeedVersion[] }).versions;
}

describe('feeds: source → data file → client decision', () => {
  let feedServer: FeedServer;
  let hub: TestHub;
  let client: Client;
  let firewall: ManagedFirewall;
  let app: Server;
  let appUrl = '';
  let dir = '';

  before(async () => {
    feedServer = await new FeedServer().start();
    hub = await startTestHub({ feeds: { allowPrivate: true, maxBytes: 64 * 1024, timeoutMs: 1500, tickMs: HOUR } });
    client = new Client(hub.url);
    await client.login();
    const { siteId, apiKey } = await createSiteWithKey(client);
    const rule = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'list', value: 'test-drop' });
    assert.equal(rule.status, 201, await rule.clone().text());
    dir = mkdtempSync(join(tmpdir(), 'moat-feeds-client-'));
    firewall = createManagedFirewall({
      apiKey, hubUrl: hub.url, dir, env: {}, logger: false, upsync: false,
      customRulesIntervalMs: HOUR, dataIntervalMs: 50, jitter: 0, watchIntervalMs: 5,
    });
    app = createServer(withMoat((_req, res) => { res.end('welcome'); }, firewall));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;
  });

  after(async () => {
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await firewall.close();
    await hub.stop();
    await feedServer.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blocks an IP once a feed lists it, and stops blocking when the feed drops it', async () => {
    assert.equal((await fetch(appUrl)).status, 200, 'no data file yet: the request passes');
    feedServer.serve('/drop.txt', '# DROP list\n; comment\n198.51.100.0/24 ; SBL1\n127.0.0.1\n192.0.2.10 - 192.0.2.20\n');
    const source = await addFeed(client, { name: 'drop', format: 'ip-list', url: `${feedServer.base}/drop.txt`, list: 'test-drop', refreshMinutes: 60 });
    assert.equal(source.status, 'ok', source.lastError ?? '');
    assert.equal(source.entries, 3);
    assert.ok(hub.feeds.counters.lastBuildThreadId > 0, 'the data file was built in a worker thread, not on the event loop');
    await until(async () => (await fetch(appUrl)).status === 403, 'the client to block 127.0.0.1 from the feed');

    feedServer.serve('/drop.txt', '# DROP list\n198.51.100.0/24 ; SBL1\n');
    const changed = await refresh(client, source.id);
    assert.equal(changed.entries, 1);
    await until(async () => (await fetch(appUrl)).status === 200, 'the client to stop blocking once the feed dropped the IP');

    const [latest] = await versions(client);
    const diff = latest!.diff.find((d) => d.list === 'test-drop')!;
    assert.deepEqual({ added: diff.added, removed: diff.removed }, { added: 0, removed: 2 });
    assert.deepEqual(diff.removedSample.sort(), ['127.0.0.1', '192.0.2.10-192.0.2.20']);
  });

  it('keeps the last good copy when the feed turns into an HTML page, and shows the error', async () => {
    feedServer.serve('/tor.txt', '1.2.3.4\n5.6.7.8\n');
    const source = await addFeed(client, { name: 'tor', format: 'ip-list', url: `${feedServer.base}/tor.txt`, list: 'tor' });
    assert.equal(source.entries, 2);
    const versionsBefore = (await versions(client)).length;
    feedServer.serve('/tor.txt', '<!doctype html><html><body><h1>502 Bad Gateway</h1>\n<p>try later</p></body></html>\n');
    const failed = await refresh(client, source.id);
    assert.equal(failed.status, 'error');
    assert.match(failed.lastError ?? '', /rejected: .*HTML/);
    assert.equal(failed.entries, 2, 'the last good copy is still in use');
    assert.equal((await versions(client)).length, versionsBefore, 'no new version from garbage');
    const page = await (await client.request('/data')).text();
    assert.match(page, /rejected: the answer is HTML/);

    feedServer.serve('/tor.txt', 'garbage line\nnot an ip\n1.2.3.4\n');
    const mostlyBad = await refresh(client, source.id);
    assert.match(mostlyBad.lastError ?? '', /2 of 3 entries are invalid/);
    assert.equal(mostlyBad.entries, 2);
  });

  it('records a timeout as the error and keeps serving the last good copy', async () => {
    let hang = false;
    feedServer.handle('/slow.txt', (_request, response) => {
      if (hang) return; // never answers
      response.end('9.9.9.9\n');
    });
    const source = await addFeed(client, { name: 'slow', format: 'ip-list', url: `${feedServer.base}/slow.txt`, list: 'slow' });
    assert.equal(source.entries, 1);
    hang = true;
    const failed = await refresh(client, source.id);
    assert.equal(failed.status, 'error');
    assert.match(failed.lastError ?? '', /^timeout:/);
    assert.equal(failed.entries, 1);
    assert.equal(failed.failures, 1);
  });

  it('accepts a feed that doubles in size under the cap, and refuses one over the cap', async () => {
    feedServer.serve('/grow.txt', ipList(1000));
    const source = await addFeed(client, { name: 'grow', format: 'ip-list', url: `${feedServer.base}/grow.txt`, list: 'grow' });
    assert.equal(source.entries, 1000);
    feedServer.serve('/grow.txt', ipList(2000)); // about 30 KB, under the 64 KiB cap
    const doubled = await refresh(client, source.id);
    assert.equal(doubled.status, 'ok');
    assert.equal(doubled.entries, 2000);
    const [latest] = await versions(client);
    assert.equal(latest!.diff.find((d) => d.list === 'grow')?.added, 1, 'the 1000 new addresses are one new interval');
    feedServer.serve('/grow.txt', ipList(8000)); // about 130 KB
    const over = await refresh(client, source.id);
    assert.equal(over.status, 'error');
    assert.match(over.lastError ?? '', /^too_large:/);
    assert.equal(over.entries, 2000);
  });

  it('answers 304 without a rebuild when the feed has not changed', async () => {
    feedServer.serve('/same.txt', '4.4.4.0/24\n');
    const source = await addFeed(client, { name: 'same', format: 'ip-list', url: `${feedServer.base}/same.txt`, list: 'same' });
    const builds = hub.feeds.counters.builds;
    const count = (await versions(client)).length;
    const again = await refresh(client, source.id);
    assert.equal(again.status, 'ok');
    const last = feedServer.requests('/same.txt').at(-1)!;
    assert.ok(last.ifNoneMatch, 'the refresh was a conditional GET');
    assert.equal(hub.feeds.counters.builds, builds, 'no rebuild');
    assert.equal((await versions(client)).length, count, 'no new version');
  });

  it('reads cloud range JSON (AWS) and uploaded files, and shows both with the versions on the Data page', async () => {
    feedServer.serve('/aws.json', JSON.stringify({
      syncToken: '1', createDate: '2024-01-01-00-00-00',
      prefixes: [{ ip_prefix: '3.5.140.0/22', region: 'ap-northeast-2', service: 'AMAZON' }],
      ipv6_prefixes: [{ ipv6_prefix: '2600:1f14::/35', region: 'us-west-2', service: 'AMAZON' }],
    }));
    const aws = await addFeed(client, { name: 'aws', format: 'aws', url: `${feedServer.base}/aws.json`, list: 'aws' });
    assert.equal(aws.entries, 2);
    const uploaded = await addFeed(client, { name: 'own list', format: 'ip-list', origin: 'upload', list: 'own', content: '100.64.1.1\n' });
    assert.equal(uploaded.entries, 1);
    const put = await client.request(`/api/feeds/${uploaded.id}/file?wait=1`, {
      method: 'PUT', body: '100.64.1.1\n100.64.2.0/24\n', headers: { 'content-type': 'text/plain', 'x-csrf-token': client.csrf },
    });
    assert.equal(put.status, 200, await put.clone().text());
    assert.equal(((await put.json()) as { source: SourceView }).source.entries, 2);
    const page = await (await client.request('/data')).text();
    assert.match(page, /<strong>aws<\/strong>/);
    assert.match(page, /data-list="own"/);
    assert.match(page, /100\.64\.2\.0\/24/, 'the diff sample shows the added range');
  });
});
