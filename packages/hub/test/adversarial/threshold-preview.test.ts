// Attacks on the threshold preview (POST /api/sites/:id/thresholds/preview): strangers and viewers
// starting scans, reading another site's preview, hostile drafts meant to cost memory or a scan (a zero
// window, a threshold of 1e12, a 10 MB name, a key the client chooses), a flood of drafts, and a
// scanner rotating addresses inside one IPv6 /64. All against a real hub on a real socket.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { inviteAndSignIn } from '../support/invited-user.js';
import { runThresholdPreview, thresholdTraffic } from '../support/threshold-preview-traffic.js';
import type { ReportRecord } from '../../src/store/store.js';

const draft = {
  name: 'scanners', condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null },
  windowSeconds: 600, threshold: 8, key: 'ip', banSeconds: 1800, mode: 'enforce', maxBansPerMinute: 60,
};

describe('threshold preview under attack', () => {
  let hub: TestHub;
  let admin: Client;
  let viewer: Client;
  let siteA: number;
  let siteB: number;
  let workersStarted = 0;
  const countWorker = () => { workersStarted += 1; };
  const url = (siteId: number) => `/api/sites/${siteId}/thresholds/preview`;

  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId: siteA } = await createSiteWithKey(admin, 'shop a'));
    ({ siteId: siteB } = await createSiteWithKey(admin, 'shop b'));
    const now = Math.floor(Date.now() / 1000);
    await hub.store.insertReports(siteA, thresholdTraffic(now, 3000));
    ({ client: viewer } = await inviteAndSignIn(admin, 'viewer@example.test', { role: 'viewer', siteIds: [siteA] }));
    // Every worker thread this process starts (the hub runs in it): a refused draft must start none.
    process.on('worker', countWorker);
  });
  after(async () => {
    process.off('worker', countWorker);
    await hub.stop();
  });

  it('a POST without a session is refused with 401 before its body is read', async () => {
    const response = await fetch(hub.url + url(siteA), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"rule": [[[' });
    assert.equal(response.status, 401);
    assert.equal((await fetch(`${hub.url}${url(siteA)}/${'a'.repeat(24)}`)).status, 401);
  });

  it('a signed-in admin without the CSRF header cannot start a preview', async () => {
    assert.equal((await admin.request(url(siteA), { method: 'POST', json: { rule: draft } })).status, 403);
  });

  it('a viewer cannot start a threshold preview on their site or another', async () => {
    for (const siteId of [siteA, siteB]) assert.equal((await viewer.api('POST', url(siteId), { rule: draft })).status, 403, `site ${siteId}`);
  });

  it('hostile drafts (window 0, threshold 1e12, a 10 MB name, an address header as key) are refused before any scan starts', async () => {
    const before = workersStarted;
    const refused: [string, unknown, number][] = [
      ['window 0', { ...draft, windowSeconds: 0 }, 400],
      ['threshold 1e12', { ...draft, threshold: 1e12 }, 400],
      ['a window of a year', { ...draft, windowSeconds: 365 * 86_400 }, 400],
      ['a 10 MB name', { ...draft, name: 'n'.repeat(10 * 1024 * 1024) }, 413],
      ['a long name within the body limit', { ...draft, name: 'n'.repeat(5000) }, 400],
      ['the client address as key', { ...draft, key: 'header:x-forwarded-for' }, 400],
      ['an unknown field', { ...draft, sql: 'DROP TABLE reports' }, 400],
      ['a fractional threshold', { ...draft, threshold: 2.5 }, 400],
    ];
    for (const [what, rule, status] of refused) {
      const response = await admin.api('POST', url(siteA), { rule });
      assert.equal(response.status, status, what);
    }
    const deep = await admin.request(url(siteA), {
      method: 'POST', headers: { 'x-csrf-token': admin.csrf, 'content-type': 'application/json' }, body: `{"rule":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    });
    assert.equal(deep.status, 400);
    assert.equal(workersStarted, before, 'no refused draft started a scan');
    const job = await runThresholdPreview(admin, siteA, draft);
    assert.equal(job.state, 'done', job.error);
    // The first valid draft starts the process's warm preview workers (two, the parts of one job); a later one reuses them.
    assert.ok(workersStarted > before && workersStarted <= before + 2, `a valid draft starts the warm workers at most (${workersStarted - before})`);
    const started = workersStarted;
    assert.equal((await runThresholdPreview(admin, siteA, draft)).state, 'done');
    assert.equal(workersStarted, started, 'the next draft runs on the warm workers');
  });

  it("a preview's job id does not read through another site", async () => {
    const job = await runThresholdPreview(admin, siteA, draft);
    assert.equal((await admin.api('GET', `${url(siteA)}/${job.id}`)).status, 200);
    assert.equal((await admin.api('GET', `${url(siteB)}/${job.id}`)).status, 404);
    assert.equal((await admin.api('DELETE', `${url(siteB)}/${job.id}`)).status, 404);
    assert.equal((await admin.api('GET', `${url(siteA)}/..%2f..%2fusers`)).status, 404);
  });

  it('a flood of drafts on one site leaves one scan running: each newer draft cancels the one before', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await admin.api('POST', url(siteA), { rule: { ...draft, threshold: 8 + i } });
      assert.equal(response.status, 202);
      ids.push(((await response.json()) as { job: { id: string } }).job.id);
    }
    const states = await Promise.all(ids.slice(0, -1).map(async (id) => ((await (await admin.api('GET', `${url(siteA)}/${id}`)).json()) as { job?: { state: string } }).job?.state));
    // Replaced jobs are cancelled (or already gone from the site's single slot).
    assert.ok(states.every((s) => s === undefined || s === 'cancelled'), JSON.stringify(states));
    // The newest one runs to its end (the hub's scan slot is then free for other sites).
    let last = { state: 'running' };
    for (let i = 0; i < 2400 && last.state === 'running'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      last = ((await (await admin.api('GET', `${url(siteA)}/${ids.at(-1)}`)).json()) as { job: { state: string } }).job;
    }
    assert.equal(last.state, 'done');
  });

  it('a scanner rotating addresses inside one IPv6 /64 is banned once as the /64 by an ip64 draft, and not at all by address', async () => {
    const now = Math.floor(Date.now() / 1000);
    const rotating: ReportRecord[] = [];
    for (let i = 0; i < 40; i++) {
      rotating.push({
        ts: now - 600 + i, ip: `2001:db8:beef:1::${(i + 1).toString(16)}`, method: 'GET', host: 'shop.example.test', path: '/.env', parameter: '',
        userAgent: 'scanner', requestId: `rot${i}`, treatment: 'Blocked', category: 'blocked', rule: 'r', ruleId: null, monitored: null, ipSource: 'socket', country: null,
      });
    }
    await hub.store.insertReports(siteB, rotating);
    const rule = { ...draft, threshold: 20, condition: { ...draft.condition, path: '/.env' } };
    const byAddress = await runThresholdPreview(admin, siteB, { ...rule, key: 'ip' });
    assert.equal(byAddress.result!.bans, 0);
    const byPrefix = await runThresholdPreview(admin, siteB, { ...rule, key: 'ip64' });
    assert.equal(byPrefix.result!.bans, 1);
    assert.equal(byPrefix.result!.topKeys[0]!.key, '2001:db8:beef:1::/64');
    // Banned at the 20th request: the other 20 would have been blocked, all of them recorded Blocked already.
    assert.equal(byPrefix.result!.blockedAfterBan, 20);
    assert.equal(byPrefix.result!.newlyBlocked, 0);
  });
});
