import { strict as assert } from 'node:assert';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Engine } from 'moat-waf';
import { Client, createSiteWithKey, startTestHub, type TestHub, startHubWithSite } from './support/hub-fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'moat-hub-files-'));
let fileCounter = 0;

/** Saves a downloaded rules file and opens it with the moat engine. */
async function openServed(response: Response): Promise<{ engine: Engine; path: string; bytes: Buffer }> {
  const bytes = Buffer.from(await response.arrayBuffer());
  const path = join(scratch, `served-${fileCounter++}.db`);
  writeFileSync(path, bytes);
  return { engine: Engine.open({ rules: path }), path, bytes };
}

describe('rules and distribution', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  let keyId: number;

  before(async () => {
    ({ hub, client, siteId, apiKey, keyId } = await startHubWithSite('shop'));
  });
  after(async () => {
    await hub.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('shows an API key once and stores only its hash', async () => {
    assert.match(apiKey, /^moat_[A-Za-z0-9_-]{43}$/);
    const keys = (await (await client.request(`/api/sites/${siteId}/keys`)).json()) as { keys: { prefix: string }[] };
    assert.equal(keys.keys.length, 1);
    assert.ok(!JSON.stringify(keys).includes(apiKey), 'the key list never contains the key');
    assert.ok(apiKey.startsWith(keys.keys[0]!.prefix));
    // Checkpoint the WAL so the whole database is in the main file, then search both for the key.
    const db = new Database(hub.config.databaseFile);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    for (const suffix of ['', '-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(hub.config.databaseFile + suffix);
      } catch {
        continue;
      }
      assert.equal(bytes.includes(Buffer.from(apiKey)), false, `raw key absent from hub.db${suffix}`);
    }
  });

  it('creates, updates and deletes rules of every kind, with note, mode and expiry', async () => {
    const inputs = [
      { kind: 'ip', value: '198.51.100.0/24', note: 'scanner net' },
      { kind: 'ip', value: '192.0.2.1-192.0.2.9' },
      { kind: 'ip', action: 'allow', value: '203.0.113.7' },
      { kind: 'country', value: 'KP' },
      { kind: 'asn', value: 'AS64500' },
      { kind: 'list', value: 'tor' },
      { kind: 'userAgent', value: 'sqlmap' },
      { kind: 'path', value: '/wp-admin', mode: 'monitor' },
      { kind: 'param', value: '<script' },
      { kind: 'host', value: 'admin.example.com' },
      { kind: 'method', value: 'TRACE', expires: '2099-01-01T00:00:00Z' },
      { kind: 'rateLimit', rateLimit: { path: '/login', method: 'POST', limit: 5, window: '1m' } },
    ];
    const ids: string[] = [];
    for (const input of inputs) {
      const response = await client.api('POST', `/api/sites/${siteId}/rules`, input);
      assert.equal(response.status, 201, `${input.kind}: ${await response.clone().text()}`);
      const { rule } = (await response.json()) as { rule: { id: string; kind: string } };
      assert.equal(rule.kind, input.kind);
      ids.push(rule.id);
    }
    const list = (await (await client.request(`/api/sites/${siteId}/rules`)).json()) as { rules: { id: string; kind: string; note?: string; mode: string; expires?: number; rateLimit?: { limit: number; windowMs: number } }[] };
    assert.equal(list.rules.length, inputs.length);
    const byId = new Map(list.rules.map((r) => [r.id, r]));
    assert.equal(byId.get(ids[0]!)!.note, 'scanner net');
    assert.equal(byId.get(ids[7]!)!.mode, 'monitor');
    assert.equal(byId.get(ids[10]!)!.expires, Date.parse('2099-01-01T00:00:00Z'));
    assert.deepEqual([byId.get(ids[11]!)!.rateLimit!.limit, byId.get(ids[11]!)!.rateLimit!.windowMs], [5, 60_000]);

    const duplicate = await client.api('POST', `/api/sites/${siteId}/rules`, inputs[0]);
    assert.equal(duplicate.status, 409);
    const invalid = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '999.1.1.1' });
    assert.equal(invalid.status, 400);
    assert.match(((await invalid.json()) as { message: string }).message, /invalid IP/);
    const wrongType = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: 12 });
    assert.equal(wrongType.status, 400);

    const patched = await client.api('PATCH', `/api/sites/${siteId}/rules/${ids[7]}`, { mode: 'block', note: 'now blocking' });
    assert.equal(patched.status, 200);
    const rule = ((await patched.json()) as { rule: { mode: string; note: string } }).rule;
    assert.deepEqual([rule.mode, rule.note], ['block', 'now blocking']);
    // A changed expiry is read as a new rule's is: Unix seconds (1970 as milliseconds: the rule silently
    // off), a time without a zone (another instant on every machine) and a date that does not exist are refused.
    for (const expires of [1_700_000_000, '2030-01-31T10:00', '2030-02-30']) {
      const refused = await client.api('PATCH', `/api/sites/${siteId}/rules/${ids[7]}`, { expires });
      assert.equal(refused.status, 400, String(expires));
      assert.equal(((await refused.json()) as { error: string }).error, 'invalid_rule');
    }
    const dated = await client.api('PATCH', `/api/sites/${siteId}/rules/${ids[7]}`, { expires: '2030-01-31T10:00:00+01:00' });
    assert.equal(((await dated.json()) as { rule: { expires: number } }).rule.expires, Date.UTC(2030, 0, 31, 9));
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/rules/${ids[9]}`)).status, 204);
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/rules/${ids[9]}`)).status, 404);
  });

  it('exports the rules document and imports it back unchanged', async () => {
    const exported = await client.request(`/api/sites/${siteId}/rules/export`);
    assert.equal(exported.status, 200);
    assert.match(exported.headers.get('content-disposition')!, /rules-site-\d+\.json/);
    const document = (await exported.json()) as { block: Record<string, unknown[]>; allow: Record<string, unknown[]>; rateLimits: unknown[] };
    assert.deepEqual(document.allow.ips, ['203.0.113.7']);
    assert.ok(document.block.userAgents!.includes('sqlmap'));
    assert.equal(document.rateLimits.length, 1);

    const other = await createSiteWithKey(client, 'copy');
    const imported = await client.api('POST', `/api/sites/${other.siteId}/rules/import`, { document, replace: true });
    assert.equal(imported.status, 200, await imported.clone().text());
    const again = (await (await client.request(`/api/sites/${other.siteId}/rules/export`)).json()) as unknown;
    assert.deepEqual(again, document);

    // A bad document is refused whole, naming the entry, and changes nothing.
    const bad = await client.api('POST', `/api/sites/${other.siteId}/rules/import`, {
      document: { block: { ips: ['10.0.0.1', 'not-an-ip'] } }, replace: true,
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /not-an-ip/);
    assert.deepEqual((await (await client.request(`/api/sites/${other.siteId}/rules/export`)).json()) as unknown, document);
    // YAML text works too.
    const yaml = await client.api('POST', `/api/sites/${other.siteId}/rules/import`, { document: 'block:\n  paths: ["/.env"]\n', replace: false });
    assert.equal(yaml.status, 200);
    const withYaml = (await (await client.request(`/api/sites/${other.siteId}/rules/export`)).json()) as { block: { paths: string[] } };
    assert.ok(withYaml.block.paths.includes('/.env'));
  });

  it('serves custom_rules on the Wafris endpoint: 200 with file name and ETag, 304 on client_db or ETag, 401 on bad keys', async () => {
    const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=web-1&process_id=42&version=0.1.0&framework=express`);
    assert.equal(response.status, 200);
    const disposition = response.headers.get('content-disposition')!;
    const fileName = /filename=([A-Za-z0-9_.-]+)/.exec(disposition)?.[1];
    assert.ok(fileName?.startsWith('moat-rules-'), disposition);
    const etag = response.headers.get('etag')!;
    assert.ok(etag);
    const { engine, bytes } = await openServed(response);
    try {
      assert.equal(engine.evaluate({ ip: '198.51.100.77', method: 'GET', path: '/' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '192.0.2.5', method: 'GET', path: '/' }).category, 'bc');
      assert.equal(engine.evaluate({ ip: '203.0.113.7', method: 'GET', path: '/' }).treatment, 'Allowed');
      assert.equal(engine.evaluate({ ip: '8.8.8.8', method: 'GET', path: '/x', userAgent: 'sqlmap/1.7' }).category, 'bu');
      assert.equal(engine.evaluate({ ip: '8.8.8.8', method: 'GET', path: '/wp-admin/x' }).category, 'bp');
      assert.equal(engine.evaluate({ ip: '8.8.8.8', method: 'GET', path: '/ok' }).treatment, 'Passed');
    } finally {
      engine.close?.();
    }
    // The signature covers exactly the body bytes, with the key from /v2/public-key.
    const signature = response.headers.get('x-moat-signature');
    assert.ok(signature);
    const pub = (await (await fetch(`${hub.url}/v2/public-key`)).json()) as { algorithm: string; publicKey: string; pem: string };
    assert.equal(pub.algorithm, 'ed25519');
    assert.equal(Buffer.from(pub.publicKey, 'base64').length, 32);
    assert.ok(verify(null, bytes, createPublicKey(pub.pem), Buffer.from(signature, 'base64')));
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 1] ^= 1;
    assert.equal(verify(null, tampered, createPublicKey(pub.pem), Buffer.from(signature, 'base64')), false);
    // And the signature of its SHA-256, which clients check against the hash they took as the bytes came.
    const digestSignature = Buffer.from(response.headers.get('x-moat-digest-signature')!, 'base64');
    const digestOf = (b: Buffer) => Buffer.from(`moat-file-sha256:${createHash('sha256').update(b).digest('hex')}`, 'latin1');
    assert.ok(verify(null, digestOf(bytes), createPublicKey(pub.pem), digestSignature));
    assert.equal(verify(null, digestOf(tampered), createPublicKey(pub.pem), digestSignature), false);

    const current = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=${fileName}`);
    assert.equal(current.status, 304);
    const byEtag = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`, { headers: { 'if-none-match': etag } });
    assert.equal(byEtag.status, 304);
    const stale = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=moat-rules-0000000000000000.db`);
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();

    assert.equal((await fetch(`${hub.url}/v2/downsync/custom_rules/moat_not-a-real-key`)).status, 401);
    assert.equal((await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey.slice(0, -1)}x`)).status, 401);
    assert.equal((await fetch(`${hub.url}/v2/downsync/other/${apiKey}`)).status, 404);
    // No data file configured: a clear 404 that is not an auth failure.
    assert.equal((await fetch(`${hub.url}/v2/downsync/data_subscriptions/${apiKey}`)).status, 404);

    const clients = (await (await client.request(`/api/sites/${siteId}/clients`)).json()) as { clients: { hostname: string; processId: string; servedFile: string }[] };
    assert.ok(clients.clients.some((c) => c.hostname === 'web-1' && c.processId === '42' && c.servedFile === fileName));
  });

  it('gives Wafris clients the Wafris layout', async () => {
    for (const query of ['client=wafris-ruby', 'format=wafris']) {
      const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?${query}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-disposition')!, /filename=custom_rules-[0-9a-f]+\.db/);
      const { path, engine } = await openServed(response);
      engine.close?.();
      const db = new Database(path, { readonly: true });
      try {
        const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
        for (const t of ['blocked_ips', 'allowed_ips', 'blocked_cidr_ranges', 'blocked_user_agents', 'blocked_paths', 'blocked_country_codes', 'blocked_rate_limits']) {
          assert.ok(tables.has(t), `table ${t}`);
        }
        const agents = db.prepare('SELECT entries FROM blocked_user_agents').pluck().all();
        assert.ok(agents.includes('sqlmap'));
        assert.equal(db.prepare('SELECT max_count FROM blocked_rate_limits').pluck().get(), 5);
      } finally {
        db.close();
      }
    }
  });

  it('a stored rule the engine now refuses (a "/" block from an older hub) is left out, and the site still compiles', async () => {
    const site = await createSiteWithKey(client, 'older rules');
    // Straight into the store, as an older hub without the check would have stored it.
    await hub.store.saveRules(site.siteId, [{ id: 'old-slash', action: 'block', kind: 'path', value: '/', mode: 'block' }], { replace: false, now: 0 });
    assert.equal((await client.api('POST', `/api/sites/${site.siteId}/rules`, { kind: 'ip', value: '100.64.0.9' })).status, 201);
    const served = await fetch(`${hub.url}/v2/downsync/custom_rules/${site.apiKey}`);
    assert.equal(served.status, 200);
    const { engine } = await openServed(served);
    assert.equal(engine.evaluate({ ip: '100.64.0.9', method: 'GET', path: '/' }).treatment, 'Blocked', 'the new rule is served');
    assert.equal(engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/shop' }).treatment, 'Passed', 'the "/" rule is not');
    engine.close?.();
    // Switching a "/" monitor rule to block is refused like creating it.
    assert.equal((await client.api('POST', `/api/sites/${site.siteId}/rules`, { kind: 'path', value: '/', mode: 'monitor' })).status, 201);
    const monitor = (await hub.store.listRules(site.siteId)).find((r) => r.kind === 'path' && r.mode === 'monitor')!;
    const patched = await client.api('PATCH', `/api/sites/${site.siteId}/rules/${monitor.id}`, { mode: 'block' });
    assert.equal(patched.status, 400);
  });

  it('serves a new file after a rule change, and 401 once the key is revoked', async () => {
    const before = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`);
    const oldName = /filename=(\S+)/.exec(before.headers.get('content-disposition')!)![1];
    await before.arrayBuffer();
    assert.equal((await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '100.64.0.1' })).status, 201);
    const after = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=${oldName}`);
    assert.equal(after.status, 200);
    const { engine } = await openServed(after);
    assert.equal(engine.evaluate({ ip: '100.64.0.1', method: 'GET', path: '/' }).treatment, 'Blocked');
    engine.close?.();

    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/keys/${keyId}`)).status, 204);
    assert.equal((await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`)).status, 401);
    assert.equal((await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"batch":[]}' })).status, 401);
  });

  it('serves the newest data_subscriptions file, signed, with 304 on client_db', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-data-'));
    const dataHub = await startTestHub({ dataFilesDir: dataDir, createDemoSite: true });
    try {
      const { mkdirSync, utimesSync } = await import('node:fs');
      mkdirSync(join(dataDir, 'moat'));
      const old = join(dataDir, 'moat', 'data-old.db');
      writeFileSync(old, 'old file');
      utimesSync(old, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      writeFileSync(join(dataDir, 'moat', 'data-new.db'), 'new data bytes');
      const key = dataHub.firstRun.demoApiKey!;
      const response = await fetch(`${dataHub.url}/v2/downsync/data_subscriptions/${key}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-disposition')!, /filename=data-new\.db/);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(bytes.toString(), 'new data bytes');
      const pem = createPublicKey(dataHub.context.signingKey!.publicKeyPem);
      assert.ok(verify(null, bytes, pem, Buffer.from(response.headers.get('x-moat-signature')!, 'base64')));
      assert.equal((await fetch(`${dataHub.url}/v2/downsync/data_subscriptions/${key}?client_db=data-new.db`)).status, 304);
      // No wafris folder: Wafris clients get a clear 404, not a Moat file.
      assert.equal((await fetch(`${dataHub.url}/v2/downsync/data_subscriptions/${key}?client=wafris`)).status, 404);
    } finally {
      await dataHub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('signs nothing when signing is off', async () => {
    const plain = await startTestHub({ signing: false, createDemoSite: true });
    try {
      const response = await fetch(`${plain.url}/v2/downsync/custom_rules/${plain.firstRun.demoApiKey}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-moat-signature'), null);
      await response.arrayBuffer();
      assert.equal((await fetch(`${plain.url}/v2/public-key`)).status, 404);
    } finally {
      await plain.stop();
    }
  });
});
