// Auto-ban on a real hub (SQLite files, real HTTP): threshold rules through the API, reports through
// real upsync requests, bans compiled into the rules files, monitor mode, the allow list, restarts,
// expiry, the cap and the rate, and the dashboard page with its one-click lift.
import { strict as assert } from 'node:assert';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createHub } from '../src/index.js';
import { COMPACT_TYPE, toCompactUpsync } from './support/compact-upsync-batch.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, record, startHubWithSite, upsyncBody } from './support/hub-fixture.js';
import { inviteAndSignIn } from './support/invited-user.js';
import { createThreshold, listBans, report, waitFor, wafrisBlocks } from './support/thresholds-kit.js';

describe('auto-ban on ingest', () => {
  it('bans an IP that reached the threshold, compiles it into the rules file, and lifts it with one click (audited)', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { threshold: 5 });
      assert.equal((await report(hub.url, apiKey, '198.51.100.20', 4)).status, 200);
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), [], 'four is under the threshold');
      assert.equal((await report(hub.url, apiKey, '198.51.100.20', 1)).status, 200);
      await hub.context.thresholds.idle();
      const [ban, ...others] = await listBans(client, siteId);
      assert.equal(others.length, 0);
      assert.equal(ban!.key, '198.51.100.20');
      assert.equal(ban!.source, 'auto');
      assert.match(ban!.reason, /^scanner: 5 matching requests in 300 s$/);
      assert.ok(ban!.expiresAt - ban!.createdAt === 3600);
      assert.deepEqual((await wafrisBlocks(hub, siteId)).ips, ['198.51.100.20'], 'the Wafris file blocks it');

      const page = await (await client.request(`/sites/${siteId}/thresholds`)).text();
      assert.match(page, /data-ban-id="\d+"[\s\S]*198\.51\.100\.20[\s\S]*badge-auto">auto</);
      const lift = await client.request(`/sites/${siteId}/bans/${ban!.id}/lift`, { method: 'POST', form: { _csrf: client.csrf } });
      assert.equal(lift.status, 303);
      assert.deepEqual(await listBans(client, siteId), []);
      assert.deepEqual((await wafrisBlocks(hub, siteId)).ips, [], 'the lifted ban left the file');
      const audit = await (await client.api('GET', `/api/sites/${siteId}/audit`)).json() as { entries: { action: string; target: string }[] };
      assert.ok(audit.entries.some((e) => e.action === 'ban.lift' && e.target === `ban-${ban!.id}`));
      assert.ok(audit.entries.some((e) => e.action === 'threshold.create'));
    } finally {
      await hub.stop();
    }
  });

  it('monitor mode bans nobody but lists the IP it would ban', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { mode: 'monitor', threshold: 3 });
      const before = (await wafrisBlocks(hub, siteId)).file;
      await report(hub.url, apiKey, '198.51.100.30', 10);
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), []);
      const would = await listBans(client, siteId, 'monitor');
      assert.deepEqual(would.map((b) => b.key), ['198.51.100.30'], 'listed once, not once per crossing');
      assert.equal((await wafrisBlocks(hub, siteId)).file, before, 'the rules file did not change');
      const page = await (await client.request(`/sites/${siteId}/thresholds`)).text();
      assert.match(page, /data-would-ban-id="\d+"><td><code>198\.51\.100\.30<\/code>/);
    } finally {
      await hub.stop();
    }
  });

  it('never bans an IP the site allows, nor an IPv6 /64 holding an allowed address', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      for (const value of ['198.51.100.0/24', '2001:db8:5:6::77']) {
        const allow = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'allow', kind: 'ip', value });
        assert.equal(allow.status, 201, await allow.text());
      }
      await createThreshold(client, siteId, { threshold: 2, key: 'ip64', condition: { requests: 'any' } });
      await report(hub.url, apiKey, '198.51.100.40', 10);
      await report(hub.url, apiKey, '2001:db8:5:6::1', 10);
      await report(hub.url, apiKey, '192.0.2.50', 2);
      await hub.context.thresholds.idle();
      assert.deepEqual((await listBans(client, siteId)).map((b) => b.key), ['192.0.2.50'], 'only the IP no allow rule covers');
      assert.ok(hub.context.thresholds.stats().allowListed >= 2);
    } finally {
      await hub.stop();
    }
  });

  it('counts a status-based rule on records that carry a status', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { name: 'login failures', threshold: 3, condition: { requests: 'any', method: 'POST', path: '/login', status: 401 } });
      const at = Math.floor(Date.now() / 1000);
      const login = (status: number) => ({ ts: at, ip: '192.0.2.60', method: 'POST', path: '/login', treatment: 'Passed', status });
      hub.context.thresholds.observe(siteId, [login(200), login(401), login(401), login(302)]);
      await hub.context.thresholds.idle();
      assert.deepEqual(await listBans(client, siteId), []);
      hub.context.thresholds.observe(siteId, [login(401)]);
      await hub.context.thresholds.idle();
      assert.match((await listBans(client, siteId))[0]!.reason, /^login failures: 3 matching/);
    } finally {
      await hub.stop();
    }
  });

  it('counts the status Moat clients report in the compact upsync (and in the JSON form)', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    try {
      await createThreshold(client, siteId, { name: 'login failures', threshold: 3, condition: { requests: 'any', method: 'POST', path: '/login', status: 401 } });
      const now = Math.floor(Date.now() / 1000);
      const login = (ip: string, i: number) => record({ ip, method: 'POST', path: '/login', request_id: `${ip}-${i}`, timestamp: now, ip_source: 'socket' });
      // Compact: a status column, -1 for "not known".
      const body = toCompactUpsync({ version: '0.1.0', client: 'moat', framework: 'test' }, [0, 1, 2, 3, 4].map((i) => login('192.0.2.61', i)));
      body.columns.status = [401, 401, -1, 200, 401];
      const compact = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': COMPACT_TYPE }, body: JSON.stringify(body) });
      assert.equal(compact.status, 200, await compact.clone().text());
      // JSON form: a status on each record; a bad one is read as unknown, the record still stored.
      const json = [401, 'x', 700, 401, 401].map((status, i) => ({ ...login('192.0.2.62', i), status }));
      const answer = await (await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(json)) })).json() as { accepted: number };
      assert.equal(answer.accepted, 5);
      await hub.context.thresholds.idle();
      assert.deepEqual((await listBans(client, siteId)).map((b) => b.key).sort(), ['192.0.2.61', '192.0.2.62']);
      // A column of the wrong length refuses the batch.
      body.columns.status = [401];
      const bad = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': COMPACT_TYPE }, body: JSON.stringify(body) });
      assert.equal(bad.status, 400);
    } finally {
      await hub.stop();
    }
  });

  it('keeps its bans across a restart (counters start again from zero)', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite();
    const dataDir = hub.dataDir;
    try {
      await createThreshold(client, siteId, { threshold: 3 });
      await report(hub.url, apiKey, '192.0.2.70', 3);
      await hub.context.thresholds.idle();
      assert.equal((await listBans(client, siteId)).length, 1);
    } finally {
      await hub.close();
    }
    const again = await createHub({ dataDir, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, print: () => undefined });
    try {
      const admin = new Client(again.url);
      await admin.login();
      assert.deepEqual((await listBans(admin, siteId)).map((b) => b.key), ['192.0.2.70']);
      assert.deepEqual((await wafrisBlocks(again, siteId)).ips, ['192.0.2.70']);
      // The rule is loaded again: a new key still gets banned after the restart.
      await report(again.url, apiKey, '192.0.2.71', 3);
      await again.context.thresholds.idle();
      assert.equal((await listBans(admin, siteId)).length, 2);
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('an expired ban leaves the rules file: the file changes at expiry', async () => {
    // The hub's clock is the test's: the ban is made at "now" and expires when the test moves the clock.
    let offsetMs = 0;
    const { hub, client, siteId, apiKey } = await startHubWithSite('expiry', { now: () => Date.now() + offsetMs });
    try {
      await createThreshold(client, siteId, { threshold: 2, banSeconds: 600 });
      await report(hub.url, apiKey, '192.0.2.80', 2);
      await hub.context.thresholds.idle();
      const banned = await wafrisBlocks(hub, siteId);
      assert.deepEqual(banned.ips, ['192.0.2.80']);
      offsetMs = 601_000;
      // No new request or rule change: the expiry timer alone must rebuild the file.
      await waitFor(async () => (await wafrisBlocks(hub, siteId)).ips.length === 0, 'the expired ban to leave the Wafris file');
      assert.notEqual((await wafrisBlocks(hub, siteId)).file, banned.file);
      assert.deepEqual(await listBans(client, siteId), []);
      assert.equal((await hub.store.thresholds.listBans(siteId, { mode: 'enforce', limit: 10 })).length, 1, 'kept in the history');
    } finally {
      await hub.stop();
    }
  });

  it('a NAT gateway flood of distinct IPs: the per-rule rate and the per-site cap hold, and both show as events', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite('nat', { thresholds: { maxActiveBansPerSite: 8 } });
    try {
      await createThreshold(client, siteId, { name: 'flood', threshold: 1, maxBansPerMinute: 5, condition: { requests: 'any' } });
      for (let i = 0; i < 30; i++) await report(hub.url, apiKey, `100.64.0.${i}`, 1);
      await hub.context.thresholds.idle();
      const stats = hub.context.thresholds.stats();
      // The minute may turn during the loop: at most two minutes' worth of bans.
      const bans = await listBans(client, siteId);
      assert.ok(bans.length >= 5 && bans.length <= 8, `bans: ${bans.length}`);
      assert.ok(stats.refusedByRate >= 30 - 10 - 8, JSON.stringify(stats));
      const events = await (await client.api('GET', `/api/sites/${siteId}/thresholds/events`)).json() as { events: { kind: string; detail: string }[] };
      assert.ok(events.events.some((e) => e.kind === 'ban_rate' && /its rate limit/.test(e.detail)), JSON.stringify(events));
      assert.ok(events.events.length <= 4, 'one event per rule, kind and minute, not one per refusal');

      // A second rule pushes the site to its cap of 8 standing bans.
      await createThreshold(client, siteId, { name: 'flood 2', threshold: 1, maxBansPerMinute: 1000, condition: { requests: 'any' } });
      for (let i = 0; i < 20; i++) await report(hub.url, apiKey, `100.65.0.${i}`, 1);
      await hub.context.thresholds.idle();
      assert.equal((await listBans(client, siteId)).length, 8, 'the cap');
      assert.ok(hub.context.thresholds.stats().refusedByCap > 0);
      const page = await (await client.request(`/sites/${siteId}/thresholds`)).text();
      assert.match(page, /data-event-kind="ban_cap"/);
      assert.match(page, /data-event-kind="ban_rate"/);
    } finally {
      await hub.stop();
    }
  });

  it('edits and deletes threshold rules through the dashboard form; a viewer sees the page but cannot change it', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      const form = {
        _csrf: client.csrf, name: 'login', requests: 'any', method: 'post', path: '/Login', pathMatch: 'exact', status: '401',
        threshold: '10', windowSeconds: '600', key: 'ip64', banSeconds: '86400', maxBansPerMinute: '', mode: 'enforce',
      };
      assert.equal((await client.request(`/sites/${siteId}/thresholds`, { method: 'POST', form })).status, 303);
      const [rule] = ((await (await client.api('GET', `/api/sites/${siteId}/thresholds`)).json()) as { rules: { id: number; condition: object; maxBansPerMinute: number }[] }).rules;
      assert.deepEqual(rule!.condition, { requests: 'any', method: 'POST', path: '/login', pathMatch: 'exact', status: 401 });
      assert.equal(rule!.maxBansPerMinute, 60);
      const refused = await client.request(`/sites/${siteId}/thresholds/${rule!.id}`, { method: 'POST', form: { ...form, threshold: '-1' } });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /threshold/);
      assert.equal((await client.request(`/sites/${siteId}/thresholds/${rule!.id}`, { method: 'POST', form: { ...form, mode: 'monitor' } })).status, 303);
      const edit = await (await client.request(`/sites/${siteId}/thresholds?edit=${rule!.id}`)).text();
      assert.match(edit, /<option value="monitor" selected>/);
      assert.match(edit, /<input type="checkbox" name="clients" value="all" >/, 'the Wafris gem\'s reports are not counted unless ticked');
      // Ticked: the rule counts every client's reports, and the form and the table say so.
      assert.equal((await client.request(`/sites/${siteId}/thresholds/${rule!.id}`, { method: 'POST', form: { ...form, mode: 'monitor', clients: 'all' } })).status, 303);
      const [all] = ((await (await client.api('GET', `/api/sites/${siteId}/thresholds`)).json()) as { rules: { condition: { clients?: string } }[] }).rules;
      assert.equal(all!.condition.clients, 'all');
      const ticked = await (await client.request(`/sites/${siteId}/thresholds?edit=${rule!.id}`)).text();
      assert.match(ticked, /<input type="checkbox" name="clients" value="all" checked>/);
      assert.match(ticked, /answered 401 \(the Wafris gem(&#39;|')s reports too\)/);

      const { client: viewer } = await inviteAndSignIn(client, 'viewer@example.test', { role: 'viewer', siteIds: [siteId] });
      assert.equal((await viewer.request(`/sites/${siteId}/thresholds`)).status, 200);
      assert.equal((await viewer.api('DELETE', `/api/sites/${siteId}/thresholds/${rule!.id}`)).status, 403);
      assert.equal((await viewer.request(`/sites/${siteId}/thresholds/${rule!.id}/delete`, { method: 'POST', form: { _csrf: viewer.csrf } })).status, 403);
      assert.equal((await viewer.api('GET', `/api/sites/${siteId}/bans`)).status, 200);

      assert.equal((await client.request(`/sites/${siteId}/thresholds/${rule!.id}/delete`, { method: 'POST', form: { _csrf: client.csrf } })).status, 303);
      assert.deepEqual(((await (await client.api('GET', `/api/sites/${siteId}/thresholds`)).json()) as { rules: unknown[] }).rules, []);
    } finally {
      await hub.stop();
    }
  });
});
