// Signed freshness statements from a real hub: on every downsync 200 and 304 a line naming the site
// (derived from the API key asked with), the category, the SHA-256 of the file current now and when,
// signed with the hub's key. Then a real managed Moat client behind a recording proxy on 127.0.0.1:
// it takes the hub's statements, and refuses the hub's own older file replayed after a rule change.
import { strict as assert } from 'node:assert';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManagedFirewall } from 'moat-waf';
import { Client, createSiteWithKey, startHubWithSite, startTestHub, type TestHub } from './support/hub-fixture.js';
import { until } from './support/until.js';

const STATEMENT = /^moat-file-v2 site=([0-9a-f]{32}) category=(custom_rules|data_subscriptions) sha256=([0-9a-f]{64}) issued=(\d+)$/;

/** The site tag as a client computes it from its key. */
const siteOf = (apiKey: string) => createHash('sha256').update(`moat-site:${apiKey}`).digest('hex').slice(0, 32);

/** The answer's statement, its signature checked with `key`. */
function statementOf(response: Response, key: KeyObject): { site: string; category: string; sha256: string; issued: number } {
  const text = response.headers.get('x-moat-freshness');
  const signature = response.headers.get('x-moat-freshness-signature');
  assert.ok(text && signature, `status ${response.status}: a statement and its signature`);
  assert.ok(verify(null, Buffer.from(text, 'latin1'), key, Buffer.from(signature, 'base64')), 'the signature verifies');
  const m = STATEMENT.exec(text);
  assert.ok(m, text);
  return { site: m[1]!, category: m[2]!, sha256: m[3]!, issued: Number(m[4]) };
}

describe('freshness statements on downsync answers', () => {
  let hub: TestHub;
  let client: Client;
  let apiKey: string;
  let key: KeyObject;
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-freshness-data-'));
  before(async () => {
    mkdirSync(join(dataDir, 'moat'));
    writeFileSync(join(dataDir, 'moat', 'data-1.db'), Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 1)]));
    ({ hub, client, apiKey } = await startHubWithSite('freshness', { dataFilesDir: dataDir }));
    key = createPublicKey(hub.context.signingKey!.publicKeyPem);
  });
  after(async () => {
    await hub.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('200 and 304 name the site of the key, the category, the current bytes and the time; another site gets its own', async () => {
    const start = Date.now();
    const first = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat`);
    assert.equal(first.status, 200);
    const body = Buffer.from(await first.arrayBuffer());
    const s200 = statementOf(first, key);
    assert.deepEqual({ site: s200.site, category: s200.category, sha256: s200.sha256 },
      { site: siteOf(apiKey), category: 'custom_rules', sha256: createHash('sha256').update(body).digest('hex') });
    assert.ok(s200.issued >= start && s200.issued <= Date.now());
    assert.ok(!first.headers.get('x-moat-freshness')!.includes(apiKey), 'never the key itself');
    // The existing signatures are as they were.
    assert.ok(verify(null, body, key, Buffer.from(first.headers.get('x-moat-signature')!, 'base64')));

    const name = /filename=([\w.-]+)/.exec(first.headers.get('content-disposition')!)![1];
    const notModified = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=${name}`);
    assert.equal(notModified.status, 304);
    const s304 = statementOf(notModified, key);
    assert.equal(s304.sha256, s200.sha256, 'a 304 names the bytes current now');
    assert.equal(s304.site, s200.site);
    assert.ok(s304.issued >= s200.issued);

    const data = await fetch(`${hub.url}/v2/downsync/data_subscriptions/${apiKey}`);
    assert.equal(data.status, 200);
    const dataBody = Buffer.from(await data.arrayBuffer());
    const sData = statementOf(data, key);
    assert.equal(sData.category, 'data_subscriptions');
    assert.equal(sData.sha256, createHash('sha256').update(dataBody).digest('hex'));

    const other = await createSiteWithKey(client, 'other site');
    const answer = await fetch(`${hub.url}/v2/downsync/custom_rules/${other.apiKey}`);
    await answer.arrayBuffer();
    assert.equal(statementOf(answer, key).site, siteOf(other.apiKey));
    assert.notEqual(siteOf(other.apiKey), siteOf(apiKey));
  });

  it('a hub that does not sign sends no statement', async () => {
    const plain = await startTestHub({ signing: false, createDemoSite: true });
    try {
      const c = new Client(plain.url);
      await c.login();
      const site = await createSiteWithKey(c, 'plain');
      const response = await fetch(`${plain.url}/v2/downsync/custom_rules/${site.apiKey}`);
      await response.arrayBuffer();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-moat-freshness'), null);
      assert.equal(response.headers.get('x-moat-freshness-signature'), null);
    } finally {
      await plain.stop();
    }
  });
});

/** A pass-through to the hub that keeps every custom_rules 200 answer and can answer with one of them instead. */
async function recordingProxy(target: string): Promise<{ url: string; answers: Recorded[]; replay: Recorded | null; close(): Promise<void> }> {
  const state = { answers: [] as Recorded[], replay: null as Recorded | null };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const replay = state.replay;
      if (replay !== null && req.url?.includes('/custom_rules/')) {
        res.writeHead(200, replay.headers).end(replay.body);
        return;
      }
      const upstream = await fetch(`${target}${req.url}`, { headers: { 'if-none-match': req.headers['if-none-match'] ?? '' } });
      const body = Buffer.from(await upstream.arrayBuffer());
      const headers: Record<string, string> = {};
      for (const [name, value] of upstream.headers) {
        if (!['transfer-encoding', 'connection', 'keep-alive', 'content-encoding', 'content-length'].includes(name)) headers[name] = value;
      }
      if (upstream.status === 200) headers['content-length'] = String(body.length);
      if (upstream.status === 200 && req.url?.includes('/custom_rules/')) state.answers.push({ headers, body });
      res.writeHead(upstream.status, headers).end(upstream.status === 304 ? undefined : body);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

interface Recorded {
  headers: Record<string, string>;
  body: Buffer;
}

describe('a managed client behind a path that replays', () => {
  it('takes the hub\'s statements, then refuses the file from before a block rule, replayed by the path', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite('replay');
    const proxy = await recordingProxy(hub.url);
    const dir = mkdtempSync(join(tmpdir(), 'moat-freshness-client-'));
    const publicKey = ((await (await fetch(`${hub.url}/v2/public-key`)).json()) as { publicKey: string }).publicKey;
    const firewall = createManagedFirewall({
      apiKey, hubUrl: proxy.url, publicKey, dir, env: {}, logger: false, upsync: false, longPollSeconds: 0,
      customRulesIntervalMs: 50, dataIntervalMs: 3_600_000, backoffBaseMs: 20, backoffMaxMs: 50, watchIntervalMs: 10,
    });
    const blocked = () => firewall.currentEngine?.evaluate({ ip: '198.51.100.9', method: 'GET', path: '/' }).treatment === 'Blocked';
    try {
      await firewall.ready();
      assert.equal(blocked(), false);
      const before = firewall.status().customRules;
      assert.equal(before.freshness.required, true, 'the hub\'s statement was accepted');
      assert.ok(before.freshness.issuedAt !== null && before.freshness.confirmedAt !== null);
      const old = proxy.answers.at(-1)!;

      const created = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '198.51.100.9' });
      assert.equal(created.status, 201);
      await until(blocked, 'the block rule enforced');
      const installed = firewall.status().customRules.freshness.issuedAt!;
      assert.ok(installed >= before.freshness.issuedAt!);

      proxy.replay = old;
      await until(() => firewall.status().customRules.lastErrorReason === 'statement-old', 'the replay refused');
      assert.equal(firewall.status().customRules.lastErrorCode, 'MOAT_ERR_SYNC_SIGNATURE');
      assert.ok(blocked(), 'the block rule stays');
      assert.equal(firewall.status().customRules.freshness.issuedAt, installed);
    } finally {
      await firewall.close();
      await proxy.close();
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
