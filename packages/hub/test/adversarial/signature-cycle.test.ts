// Attack: get an IP unblocked for good by making the hub's signatures stale. Rules that return to an
// earlier state (block → unblock → block) rebuild a file with the earlier name but other bytes; a hub
// that reuses the earlier signature makes every signed client refuse the file and keep the unblocked
// rules. These tests run a real hub and a real managed Moat client in front of a real app.
import { strict as assert } from 'node:assert';
import { createPublicKey, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManagedFirewall, type ManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';
import { Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { until } from '../support/until.js';

const HOUR = 3_600_000;

/** Waits for `condition`, polling; the timeout only guards against a hang, it asserts no speed. */
describe('signature cycle: rules that return to an earlier state', () => {
  let hub: TestHub;
  let admin: Client;
  let siteId: number;
  let apiKey: string;
  let publicKey: string;
  let dir: string;
  let firewall: ManagedFirewall;
  let app: Server;
  let appUrl: string;
  // The client's clock: a poll is due only when the test moves it on, so each sync is one step.
  let clockOffset = 0;

  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId, apiKey } = await createSiteWithKey(admin, 'cycle'));
    publicKey = ((await (await fetch(`${hub.url}/v2/public-key`)).json()) as { publicKey: string }).publicKey;
    dir = mkdtempSync(join(tmpdir(), 'moat-cycle-client-'));
    firewall = createManagedFirewall({
      apiKey, hubUrl: hub.url, publicKey, dir, env: {}, logger: false, upsync: false,
      customRulesIntervalMs: HOUR, dataIntervalMs: 100 * HOUR, jitter: 0, watchIntervalMs: 5,
      now: () => Date.now() + clockOffset,
    });
    await firewall.ready();
    app = createServer(withMoat((_req, res) => { res.end('welcome'); }, firewall));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const address = app.address() as { port: number };
    appUrl = `http://127.0.0.1:${address.port}/`;
  });
  after(async () => {
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await firewall.close();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One poll of custom_rules: moves the client's clock past the interval and waits for the outcome. */
  async function syncOnce(): Promise<void> {
    const before = firewall.status().customRules;
    const seen = before.downloads + before.notModified + before.errors;
    clockOffset += HOUR + 1000;
    await until(() => {
      const s = firewall.status().customRules;
      return s.downloads + s.notModified + s.errors > seen;
    }, 'the next custom_rules poll');
  }

  async function appStatus(): Promise<number> {
    const response = await fetch(appUrl);
    await response.arrayBuffer();
    return response.status;
  }

  it('block → 403, unblock → 200, block again → 403 through a signed managed client on node:http, with no verification failure', async () => {
    assert.equal(await appStatus(), 200);
    const downloadsAtStart = firewall.status().customRules.downloads;
    let ruleId = '';
    const served = new Set<string>();
    for (const step of ['block', 'unblock', 'block again', 'unblock again', 'block a third time']) {
      if (step.startsWith('block')) {
        const created = await admin.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '127.0.0.1' });
        assert.equal(created.status, 201, await created.clone().text());
        ruleId = ((await created.json()) as { rule: { id: string } }).rule.id;
      } else {
        assert.equal((await admin.api('DELETE', `/api/sites/${siteId}/rules/${ruleId}`)).status, 204);
      }
      await syncOnce();
      const status = firewall.status();
      assert.equal(status.customRules.lastError, null, `${step}: ${status.customRules.lastError}`);
      served.add(status.customRules.file!.servedName!);
      assert.equal(await appStatus(), step.startsWith('block') ? 403 : 200, step);
    }
    const status = firewall.status();
    assert.equal(status.errors.customRules, 0, 'no download was refused');
    assert.equal(status.customRules.downloads - downloadsAtStart, 5, 'each change was downloaded');
    // The attack's precondition holds: the blocked state came back under its earlier file name.
    assert.equal(served.size, 2);
  });

  it('every downsync signature verifies over the exact body, even after the same rules were rebuilt with other bytes', async () => {
    const pem = createPublicKey((await (await fetch(`${hub.url}/v2/public-key`)).json() as { pem: string }).pem);
    const bodies = new Set<string>();
    for (let round = 0; round < 3; round++) {
      // Rebuilding from unchanged rules writes a new file under the same name.
      await hub.context.builder.rebuild(siteId);
      const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}`);
      assert.equal(response.status, 200);
      const body = Buffer.from(await response.arrayBuffer());
      const signature = Buffer.from(response.headers.get('x-moat-signature')!, 'base64');
      assert.ok(verify(null, body, pem, signature), `round ${round}: the signature matches the bytes served`);
      assert.equal(Number(response.headers.get('content-length')), body.length);
      bodies.add(body.toString('base64'));
    }
    // Precondition of the attack: equal rules, equal name, yet other bytes on each rebuild.
    assert.ok(bodies.size > 1, 'rebuilds of the same rules gave identical bytes; the test no longer covers the attack');
  });
});

describe('signature cycle: big data files', () => {
  it('four concurrent downloads of a 20 MB data file get the exact signed bytes, signed once; a new file renamed over the name is signed anew', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-cycle-data-'));
    const hub = await startTestHub({ dataFilesDir: dataDir, createDemoSite: true });
    try {
      const key = hub.context.signingKey!;
      const original = key.signFile.bind(key);
      const dataSize = 20 * 1024 * 1024;
      let signings = 0;
      // Counts signings of the data file only (the demo site's rules files are signed as they are built).
      key.signFile = (handle, size) => {
        if (size === dataSize) signings++;
        return original(handle, size);
      };
      const pem = createPublicKey(key.publicKeyPem);
      mkdirSync(join(dataDir, 'moat'));
      const path = join(dataDir, 'moat', 'data.db');
      const first = Buffer.alloc(dataSize, 1);
      first.write('first version');
      writeFileSync(path, first);

      const download = async () => {
        const response = await fetch(`${hub.url}/v2/downsync/data_subscriptions/${hub.firstRun.demoApiKey}`);
        assert.equal(response.status, 200);
        const body = Buffer.from(await response.arrayBuffer());
        assert.ok(verify(null, body, pem, Buffer.from(response.headers.get('x-moat-signature')!, 'base64')), 'signature of the bytes served');
        return body;
      };
      const bodies = await Promise.all(Array.from({ length: 4 }, download));
      for (const body of bodies) assert.ok(body.equals(first));
      assert.equal(signings, 1, 'the file was hashed and signed once for all downloads');

      // The operator drops a new version under the same name (written aside, then renamed), with the
      // same size and modification time: the hub must not reuse the old signature.
      const second = Buffer.alloc(first.length, 2);
      second.write('second version');
      const aside = join(dataDir, 'data.db.tmp');
      writeFileSync(aside, second);
      const when = new Date(Date.now() - 60_000);
      utimesSync(aside, when, when);
      renameSync(aside, path);
      assert.ok((await download()).equals(second));
      assert.equal(signings, 2);
    } finally {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
