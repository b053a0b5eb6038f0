// Attacks on the hub's feed fetcher and the feed API, over real sockets: SSRF towards the hub's own
// network, oversized and endless bodies, redirect loops, a server that drips a byte at a time, a gzip
// bomb, and non-admins adding sources. Each asserts the attack fails and the failure is visible.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { guardedLookup, RefusedAddressError } from '../../src/feeds/address-policy.js';
import { fetchFeed, FeedFetchError } from '../../src/feeds/fetch-feed.js';
import type { FeedSource } from '../../src/store/feed-records.js';
import { FeedServer } from '../feeds-server.js';
import { Client, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { inviteAndSignIn } from '../support/invited-user.js';

const HOUR = 3_600_000;
const CAP = 64 * 1024;

describe('feed URLs cannot reach the hub\'s own network (SSRF) without --feeds-allow-private', () => {
  let feedServer: FeedServer;
  let hub: TestHub;
  let admin: Client;

  before(async () => {
    feedServer = await new FeedServer().start();
    feedServer.serve('/secret', '10.0.0.1\n');
    hub = await startTestHub({ feeds: { tickMs: HOUR } });
    admin = new Client(hub.url);
    await admin.login();
  });
  after(async () => {
    await hub.stop();
    await feedServer.stop();
  });

  it('POST /api/feeds with http://127.0.0.1:<port>/ is refused, and the loopback server never sees a request', async () => {
    const response = await admin.api('POST', '/api/feeds', { name: 'loop', format: 'ip-list', url: `${feedServer.base}/secret`, list: 'x' });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /not a public address.*--feeds-allow-private/);
    assert.equal(((await (await admin.api('GET', '/api/feeds')).json()) as { sources: unknown[] }).sources.length, 0);
    assert.equal(feedServer.requests('/secret').length, 0);
  });

  const port = () => new URL(feedServer.base).port;
  for (const [what, url] of [
    ['a decimal IPv4 (2130706433)', () => `http://2130706433:${port()}/secret`],
    ['a hex IPv4 (0x7f.1)', () => `http://0x7f.1:${port()}/secret`],
    ['IPv6 loopback [::1]', () => `http://[::1]:${port()}/secret`],
    ['IPv4-mapped loopback [::ffff:127.0.0.1]', () => `http://[::ffff:127.0.0.1]:${port()}/secret`],
    ['localhost', () => `http://localhost:${port()}/secret`],
    ['the cloud metadata address 169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private 10.x address', () => 'http://10.1.2.3/feed.txt'],
    ['a file: URL', () => 'file:///etc/passwd'],
    ['a gopher: URL', () => 'gopher://127.0.0.1:6379/_INFO'],
    ['credentials in the URL', () => 'https://user:pass@example.com/feed.txt'],
  ] as const) {
    it(`a feed URL with ${what} is refused`, async () => {
      const response = await admin.api('POST', '/api/feeds', { name: `x-${what}`, format: 'ip-list', url: url(), list: 'x' });
      assert.equal(response.status, 400, await response.clone().text());
    });
  }

  it('a name that resolves to loopback is refused at connect time, by the lookup the request uses', async () => {
    const error = await new Promise<Error | null>((resolve) => {
      guardedLookup(false)('localhost', {}, (e) => resolve(e));
    });
    assert.ok(error instanceof RefusedAddressError, String(error));
    assert.match(error.message, /non-public address/);
  });

  it('a viewer cannot add a feed source (403), and an anonymous upload is refused before its body is read (401)', async () => {
    const { client: viewer } = await inviteAndSignIn(admin, 'viewer@example.test', { role: 'viewer', siteIds: [] });
    const added = await viewer.api('POST', '/api/feeds', { name: 'v', format: 'ip-list', origin: 'upload', list: 'v', content: '1.2.3.4\n' });
    assert.equal(added.status, 403);
    assert.equal((await viewer.request('/data')).status, 403);
    const anonymous = await fetch(`${hub.url}/api/feeds/1/file`, { method: 'PUT', body: 'x'.repeat(1024 * 1024), headers: { 'content-type': 'text/plain' } });
    assert.equal(anonymous.status, 401);
  });
});

describe('hostile feed servers are cut off at the bounds', () => {
  let feedServer: FeedServer;
  let hub: TestHub;
  let admin: Client;
  let closes = 0;

  before(async () => {
    feedServer = await new FeedServer().start();
    hub = await startTestHub({ feeds: { allowPrivate: true, maxBytes: CAP, timeoutMs: 1000, maxRedirects: 3, tickMs: HOUR } });
    admin = new Client(hub.url);
    await admin.login();
  });
  after(async () => {
    await hub.stop();
    await feedServer.stop();
  });

  /** Adds a URL source for `path` and returns its state after the first fetch. */
  async function attempt(name: string, path: string): Promise<FeedSource> {
    const response = await admin.api('POST', '/api/feeds?wait=1', { name, format: 'ip-list', url: `${feedServer.base}${path}`, list: name });
    assert.equal(response.status, 201, await response.clone().text());
    return ((await response.json()) as { source: FeedSource }).source;
  }

  function assertNothingKept(source: FeedSource) {
    assert.equal(source.status, 'error');
    assert.equal(source.entries, null, 'no copy was accepted');
    const copies = readdirSync(join(hub.dataDir, 'feeds')).filter((f) => f.startsWith(`${source.id}.`));
    assert.deepEqual(copies, [], 'no partial download left on disk');
  }

  it('an endless body without Content-Length is cut off at the size cap', async () => {
    feedServer.handle('/endless', (request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const line = Buffer.from('1.2.3.4\n'.repeat(1024));
      const pump = () => {
        while (response.write(line)) { /* fill the socket buffer */ }
      };
      response.on('drain', pump);
      request.socket.once('close', () => { closes++; });
      pump();
    });
    const source = await attempt('endless', '/endless');
    assert.match(source.lastError ?? '', /^too_large:/);
    assertNothingKept(source);
  });

  it('a Content-Length over the cap is refused before the body is read', async () => {
    feedServer.handle('/declared', (_request, response) => {
      response.writeHead(200, { 'content-length': String(CAP * 100) });
      response.write('1.2.3.4\n');
    });
    const source = await attempt('declared', '/declared');
    assert.match(source.lastError ?? '', /^too_large: the body is 6553600 bytes/);
    assertNothingKept(source);
  });

  it('a redirect loop stops after maxRedirects hops', async () => {
    feedServer.handle('/loop', (_request, response) => {
      response.writeHead(302, { location: '/loop' }).end();
    });
    const source = await attempt('loop', '/loop');
    assert.match(source.lastError ?? '', /^too_many_redirects:/);
    assert.equal(feedServer.requests('/loop').length, 4, 'the first request and three redirects, no more');
    assertNothingKept(source);
  });

  it('a redirect to a non-http scheme is refused', async () => {
    feedServer.handle('/to-file', (_request, response) => {
      response.writeHead(301, { location: 'file:///etc/passwd' }).end();
    });
    const source = await attempt('to-file', '/to-file');
    assert.match(source.lastError ?? '', /^bad_url: only http and https/);
  });

  it('a server that drips one byte at a time is cut off at the deadline', async () => {
    let dripped = 0;
    feedServer.handle('/drip', (request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => {
        dripped++;
        response.write('1');
      }, 50);
      request.socket.once('close', () => clearInterval(timer));
    });
    const source = await attempt('drip', '/drip');
    assert.match(source.lastError ?? '', /^timeout:/);
    assert.ok(dripped > 0, 'the server was dripping');
    assertNothingKept(source);
  });

  it('a gzip bomb (50 MB of zeros in a small gzip) is refused at the cap, never inflated whole', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x30));
    assert.ok(bomb.length < CAP, 'the compressed body itself is under the cap');
    feedServer.handle('/bomb', (_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(bomb.length) }).end(bomb);
    });
    const source = await attempt('bomb', '/bomb');
    assert.match(source.lastError ?? '', /^too_large: the decompressed body/);
    assertNothingKept(source);
  });

  it('a well-formed gzip feed is accepted', async () => {
    const body = gzipSync('8.8.8.0/24\n8.8.4.0/24\n');
    feedServer.handle('/gz', (_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip' }).end(body);
    });
    const source = await attempt('gz', '/gz');
    assert.equal(source.status, 'ok', source.lastError ?? '');
    assert.equal(source.entries, 2);
  });

  it('an upload over the cap is answered 413 and not stored', async () => {
    const created = await admin.api('POST', '/api/feeds?wait=1', { name: 'up', format: 'ip-list', origin: 'upload', list: 'up', content: '1.1.1.1\n' });
    const { source } = (await created.json()) as { source: FeedSource };
    const response = await admin.request(`/api/feeds/${source.id}/file`, {
      method: 'PUT', body: '2.2.2.2\n'.repeat(CAP / 4), headers: { 'content-type': 'text/plain', 'x-csrf-token': admin.csrf },
    });
    assert.equal(response.status, 413);
    const after = (await (await admin.api('GET', `/api/feeds/${source.id}`)).json()) as { source: FeedSource };
    assert.equal(after.source.entries, 1);
  });

  it('fetchFeed itself refuses a loopback URL when private addresses are not allowed', async () => {
    const out = join(hub.dataDir, 'probe.txt');
    await assert.rejects(
      fetchFeed(`${feedServer.base}/gz`, out, { etag: null, lastModified: null }, { maxBytes: CAP, timeoutMs: 1000, maxRedirects: 0, allowPrivate: false }),
      (e: unknown) => e instanceof FeedFetchError && e.code === 'refused_address',
    );
    assert.equal(existsSync(out), false);
    assert.ok(closes >= 1, 'the endless server saw the hub hang up');
  });
});
