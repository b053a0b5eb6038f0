// The Data page through its forms, as an admin's browser uses it (form posts with the CSRF field):
// add an uploaded list, see it checked and built, edit it, refresh, remove it; a refused form shows why.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, startTestHub, type TestHub } from './support/hub-fixture.js';
import { inviteAndSignIn } from './support/invited-user.js';

describe('the Data page', () => {
  let hub: TestHub;
  let admin: Client;

  before(async () => {
    hub = await startTestHub({ feeds: { tickMs: 3_600_000 } });
    admin = new Client(hub.url);
    await admin.login();
  });
  after(async () => hub.stop());

  it('is linked for admins, not for viewers', async () => {
    assert.match(await (await admin.request('/sites')).text(), /<a href="\/data">Data<\/a>/);
    const { client: viewer } = await inviteAndSignIn(admin, 'reader@example.test', { role: 'viewer', siteIds: [] });
    assert.doesNotMatch(await (await viewer.request('/sites')).text(), /href="\/data"/);
  });

  it('adds an uploaded list through the form, shows its entries and the version, then removes it', async () => {
    const added = await admin.request('/data/feeds', {
      method: 'POST',
      form: { _csrf: admin.csrf, name: 'office blocklist', format: 'ip-list', origin: 'upload', list: 'office', refreshMinutes: '60', content: '# ours\n192.0.2.0/24\n198.51.100.7\n' },
    });
    assert.equal(added.status, 303, await added.clone().text());
    await hub.feeds.idle();
    const page = await (await admin.request('/data')).text();
    assert.match(page, /<strong>office blocklist<\/strong>/);
    assert.match(page, /data-status="ok"/);
    assert.match(page, /<code>office<\/code>: \+2 \/ −0/);

    const refusedForm = await admin.request('/data/feeds', {
      method: 'POST', form: { _csrf: admin.csrf, name: 'bad', format: 'ip-list', origin: 'url', url: 'http://127.0.0.1:9/x', list: 'bad' },
    });
    assert.equal(refusedForm.status, 400);
    assert.match(await refusedForm.text(), /not a public address/);

    const { sources } = (await (await admin.api('GET', '/api/feeds')).json()) as { sources: { id: number }[] };
    const removed = await admin.request(`/data/feeds/${sources[0]!.id}/remove`, { method: 'POST', form: { _csrf: admin.csrf } });
    assert.equal(removed.status, 303);
    await hub.feeds.idle();
    const after = await (await admin.request('/data')).text();
    assert.doesNotMatch(after, /<strong>office blocklist<\/strong>/);
    assert.match(after, /<code>office<\/code>: \+0 \/ −2/, 'the newest version shows the list removed');
    const audit = (await (await admin.api('GET', '/api/audit')).json()) as { entries: { action: string }[] };
    assert.ok(['feed.create', 'feed.delete'].every((a) => audit.entries.some((e) => e.action === a)), 'both changes are audited');
  });

  it('refuses a form post without the CSRF field', async () => {
    const response = await admin.request('/data/feeds', { method: 'POST', form: { name: 'x', format: 'ip-list', origin: 'upload', list: 'x', content: '1.2.3.4' } });
    assert.equal(response.status, 403);
  });
});
