// Attacks on the rule preview (POST /api/sites/:id/rules/preview): strangers and viewers starting scans,
// reading another site's preview, oversized and deeply nested drafts, a regex-looking draft meant to be
// slow, a client hiding behind two spellings of its address from a split backtest, and a flood of
// previews meant to start a scan each. All against a real hub on a real socket.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { inviteAndSignIn } from '../support/invited-user.js';
import { previewTraffic, runPreview, type PreviewJob } from '../support/preview-traffic.js';

describe('rule preview under attack', () => {
  let hub: TestHub;
  let admin: Client;
  let viewer: Client;
  let siteA: number;
  let siteB: number;
  const url = (siteId: number) => `/api/sites/${siteId}/rules/preview`;
  const draft = { rule: { kind: 'userAgent', value: 'sqlmap' }, range: '24h' };

  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId: siteA } = await createSiteWithKey(admin, 'shop a'));
    ({ siteId: siteB } = await createSiteWithKey(admin, 'shop b'));
    const now = Math.floor(Date.now() / 1000);
    await hub.store.insertReports(siteA, previewTraffic(now, 4000));
    ({ client: viewer } = await inviteAndSignIn(admin, 'viewer@example.test', { role: 'viewer', siteIds: [siteA] }));
  });
  after(async () => { await hub.stop(); });

  it('a POST without a session is refused with 401 before its body is read (a malformed body gets 401, not 400)', async () => {
    const response = await fetch(hub.url + url(siteA), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"rule": [[[' });
    assert.equal(response.status, 401);
    const polled = await fetch(`${hub.url}${url(siteA)}/${'a'.repeat(24)}`);
    assert.equal(polled.status, 401);
  });

  it('a signed-in admin without the CSRF header cannot start a preview', async () => {
    const response = await admin.request(url(siteA), { method: 'POST', json: draft });
    assert.equal(response.status, 403);
  });

  it('a viewer of the site cannot start a preview, nor one on a site not granted to them', async () => {
    for (const siteId of [siteA, siteB]) {
      const response = await viewer.api('POST', url(siteId), draft);
      assert.equal(response.status, 403, `site ${siteId}`);
    }
  });

  it("a preview's job id does not read through another site", async () => {
    const job = await runPreview(admin, siteA, draft.rule);
    assert.equal(job.state, 'done');
    assert.equal((await admin.api('GET', `${url(siteA)}/${job.id}`)).status, 200);
    assert.equal((await admin.api('GET', `${url(siteB)}/${job.id}`)).status, 404);
    assert.equal((await admin.api('DELETE', `${url(siteB)}/${job.id}`)).status, 404);
    assert.equal((await admin.api('GET', `${url(siteA)}/..%2f..%2fusers`)).status, 404);
  });

  it('an oversized draft is refused with 413, a deeply nested one with 400, a long value with 400', async () => {
    const big = await admin.api('POST', url(siteA), { rule: { kind: 'path', value: 'x'.repeat(40_000) } });
    assert.equal(big.status, 413);
    const deep = await admin.request(url(siteA), {
      method: 'POST', headers: { 'x-csrf-token': admin.csrf, 'content-type': 'application/json' }, body: `{"rule":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    });
    assert.equal(deep.status, 400);
    const long = await admin.api('POST', url(siteA), { rule: { kind: 'path', value: 'y'.repeat(2000) } });
    assert.equal(long.status, 400);
    const extra = await admin.api('POST', url(siteA), { ...draft, sql: 'DROP TABLE reports' });
    assert.equal(extra.status, 400);
    const both = await admin.api('POST', url(siteA), { ...draft, form: { kind: 'path', value: '/x' } });
    assert.equal(both.status, 400);
  });

  it('a draft the clients would refuse (a "/" path block) is refused, not scanned', async () => {
    const response = await admin.api('POST', url(siteA), { rule: { kind: 'path', value: '/' } });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /whole site/);
  });

  it('a regex-looking draft meant to backtrack is matched as plain text and finishes', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Paths built to make `(a+)+$` backtrack, were it a regex; one holds the draft's text literally.
    await hub.store.insertReports(siteA, Array.from({ length: 200 }, (_, i) => ({
      ts: now - 100 + (i % 50), ip: '192.0.2.9', method: 'GET', host: 'a.test', path: i === 0 ? '/x/(a+)+$' : `/${'a'.repeat(2000)}!`,
      parameter: `q=${'a'.repeat(2000)}!`, userAgent: 'a'.repeat(1000), requestId: `bt${i}`, treatment: 'Passed' as const, category: 'passed',
      rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
    })));
    const job = await runPreview(admin, siteA, { kind: 'path', value: '(a+)+$' }, '1h');
    assert.equal(job.state, 'done', job.error);
    assert.equal(job.result!.matched.requests, 1, 'only the literal text matches');
    for (const value of ['.*', '^a*$', '(?:a|aa)+b']) {
      const other = await runPreview(admin, siteA, { kind: 'userAgent', value }, '1h');
      assert.equal(other.state, 'done');
      assert.equal(other.result!.matched.requests, 0, `${value} is not a pattern`);
    }
  });

  it('a client reported as 198.51.100.7 and ::ffff:198.51.100.7, or from two addresses of one IPv6 /64, stays one client to a rate-limit backtest split over two workers', async () => {
    const { siteId } = await createSiteWithKey(admin, 'shop split');
    const now = Math.floor(Date.now() / 1000);
    // Alternating forms, one second apart: split by text, each form alone would stay under the limit of 2.
    const forms = [['198.51.100.7', '::ffff:198.51.100.7'], ['2001:db8:1:2::5', '2001:db8:1:2:ffff::9'], ['10.0.0.3', '10.0.0.3']];
    await hub.store.insertReports(siteId, forms.flatMap((pair, p) => Array.from({ length: 6 }, (_, i) => ({
      ts: now - 300 + i, ip: pair[i % 2]!, method: 'POST', host: 'a.test', path: '/login', parameter: '', userAgent: 'curl/8', requestId: `split${p}-${i}`,
      treatment: 'Passed' as const, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
    }))));
    const job = await runPreview(admin, siteId, { kind: 'rateLimit', rateLimit: { path: '/login', limit: 2, window: '10m' } }, '1h');
    assert.equal(job.state, 'done', job.error);
    assert.equal(job.parts, 2, 'scanned by two workers');
    assert.equal(job.scanned, 18);
    // Per client: 6 requests, 2 allowed, 4 refused; 3 clients.
    assert.equal(job.result!.matched.requests, 12);
  });

  it('one API key sent from eight addresses (some IPv4-mapped) stays one client to a keyed rate-limit backtest split over two workers', async () => {
    const { siteId } = await createSiteWithKey(admin, 'shop key rotation');
    const now = Math.floor(Date.now() / 1000);
    const hash = 'c0ffee'.padEnd(32, '7');
    // Each address alone sends 2 (under the limit of 2 per 10 min); the key sends 16, so 14 are refused.
    await hub.store.insertReports(siteId, Array.from({ length: 16 }, (_, i) => ({
      ts: now - 300 + i, ip: `${i % 3 === 0 ? '::ffff:' : ''}203.0.113.${i % 8}`, method: 'POST', host: 'a.test', path: '/api', parameter: '', userAgent: 'curl/8',
      requestId: `rot-${i}`, treatment: 'Passed' as const, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
      keys: [{ kind: 'header:x-api-key', hash }],
    })));
    const job = await runPreview(admin, siteId, { kind: 'rateLimit', rateLimit: { path: '/api', limit: 2, window: '10m', key: 'header:x-api-key' } }, '1h');
    assert.equal(job.state, 'done', job.error);
    assert.equal(job.parts, 2, 'scanned by two workers');
    assert.equal(job.scanned, 16);
    assert.equal(job.result!.matched.requests, 14);
  });

  it("a keyed rate-limit draft on a header named with a quote (x'-key, a legal header name) cannot break the split's SQL: it runs and counts", async () => {
    const { siteId } = await createSiteWithKey(admin, 'shop quote');
    const now = Math.floor(Date.now() / 1000);
    const kind = "header:x'-key";
    await hub.store.insertReports(siteId, Array.from({ length: 10 }, (_, i) => ({
      ts: now - 300 + i, ip: `192.0.2.${i}`, method: 'GET', host: 'a.test', path: '/q', parameter: '', userAgent: 'curl/8',
      requestId: `quote-${i}`, treatment: 'Passed' as const, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
      keys: [{ kind, hash: (i % 2 === 0 ? 'a' : 'b').repeat(32) }],
    })));
    const job = await runPreview(admin, siteId, { kind: 'rateLimit', rateLimit: { path: '/q', limit: 3, window: '10m', key: kind } }, '1h');
    assert.equal(job.state, 'done', job.error);
    assert.equal(job.parts, 2);
    assert.equal(job.scanned, 10);
    // Two keys of 5 requests each, 3 allowed each: 4 refused.
    assert.equal(job.result!.matched.requests, 4);
  });

  it('100 concurrent previews of one site run one scan on the warm workers: every earlier job is replaced, no thread starts per draft, the last one answers correctly', async () => {
    // Every thread this process starts (the hub runs in it): the flood must not start one per draft.
    let threads = 0;
    const countThread = () => { threads += 1; };
    process.on('worker', countThread);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      admin.api('POST', url(siteA), { rule: { kind: 'userAgent', value: i === 99 ? 'sqlmap' : `bot-${i}` }, range: '7d' })));
    const jobs: PreviewJob[] = [];
    for (const response of responses) {
      assert.equal(response.status, 202);
      jobs.push(((await response.json()) as { job: PreviewJob }).job);
    }
    // While the hub sorts them out it keeps answering other requests.
    for (let i = 0; i < 10; i++) assert.equal((await admin.api('GET', '/api/me')).status, 200);
    let live = 0;
    let last: PreviewJob | undefined;
    for (const job of jobs) {
      const polled = await admin.api('GET', `${url(siteA)}/${job.id}`);
      if (polled.status === 200) {
        live++;
        last = ((await polled.json()) as { job: PreviewJob }).job;
      } else {
        assert.equal(polled.status, 404);
      }
    }
    assert.equal(live, 1, 'one job per site');
    assert.ok(last);
    for (let i = 0; i < 2400 && last.state === 'running'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      last = ((await (await admin.api('GET', `${url(siteA)}/${last.id}`)).json()) as { job: PreviewJob }).job;
    }
    assert.equal(last.state, 'done', last.error);
    process.off('worker', countThread);
    assert.ok(threads <= 2, `the flood started ${threads} threads; the warm two at most`);
    // The surviving job counts as the same draft previewed alone does.
    const single = await runPreview(admin, siteA, { kind: 'userAgent', value: (last as unknown as { rule: { value: string } }).rule.value }, '7d');
    assert.equal(single.state, 'done');
    assert.deepEqual(last.result!.matched.topIps, single.result!.matched.topIps);
    assert.equal(last.result!.matched.requests, single.result!.matched.requests);
  });
});
