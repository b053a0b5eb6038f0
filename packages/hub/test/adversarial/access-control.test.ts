// Attacks by signed-in users on what their role allows: a viewer writing rules, keys, sites or users,
// reading sites not granted to them, promoting themselves; a removed user keeping their session; forms
// posted without the CSRF token. All against a real hub on a real socket.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHub, type Hub } from '../../src/index.js';
import type { HubStore } from '../../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, startTestHub, type TestHub } from '../support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { inviteAndSignIn } from '../support/invited-user.js';
import { sendHeadOnly } from './raw-request.js';

interface AuditEntry { action: string; userEmail: string; ip: string | null; siteId: number | null; target: string | null; before: string | null; after: string | null }

describe('access control: a viewer on a real hub', () => {
  let hub: TestHub;
  let admin: Client;
  let viewer: Client;
  let viewerId: number;
  let granted: number;
  let other: number;
  let keyId: number;
  const ruleId = async (siteId: number) => {
    const rules = (await (await admin.api('GET', `/api/sites/${siteId}/rules`)).json()) as { rules: { id: string }[] };
    return rules.rules[0]!.id;
  };
  const auditCount = async () => ((await (await admin.api('GET', '/api/audit?limit=200')).json()) as { entries: unknown[] }).entries.length;
  const ruleCount = async (siteId: number) => ((await (await admin.api('GET', `/api/sites/${siteId}/rules`)).json()) as { rules: unknown[] }).rules.length;

  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId: granted, keyId } = await createSiteWithKey(admin, 'granted shop'));
    ({ siteId: other } = await createSiteWithKey(admin, 'secret other shop'));
    for (const siteId of [granted, other]) {
      const rule = await admin.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '203.0.113.7', mode: 'block' });
      assert.equal(rule.status, 201);
    }
    ({ client: viewer, userId: viewerId } = await inviteAndSignIn(admin, 'viewer@example.test', { role: 'viewer', siteIds: [granted] }));
  });
  after(() => hub.stop());

  it('control: the viewer reads the granted site through the API and the pages', async () => {
    for (const path of [`/api/sites/${granted}/rules`, `/api/sites/${granted}/stats/overview`, `/api/sites/${granted}/requests`, `/api/sites/${granted}/audit`,
      `/sites/${granted}`, `/sites/${granted}/rules`, `/sites/${granted}/requests`, `/sites/${granted}/clients`]) {
      const response = await viewer.request(path);
      assert.equal(response.status, 200, path);
      await response.arrayBuffer();
    }
  });

  it('POST/PATCH/DELETE of rules and rule imports through the JSON API answer 403 to a viewer and store nothing', async () => {
    const id = await ruleId(granted);
    const before = [await ruleCount(granted), await auditCount()];
    const attempts: [string, string, unknown][] = [
      ['POST', `/api/sites/${granted}/rules`, { action: 'block', kind: 'ip', value: '198.51.100.1', mode: 'block' }],
      ['PATCH', `/api/sites/${granted}/rules/${id}`, { mode: 'monitor' }],
      ['DELETE', `/api/sites/${granted}/rules/${id}`, undefined],
      ['POST', `/api/sites/${granted}/rules/import`, { document: { block: { ips: ['198.51.100.2'] } }, replace: true }],
    ];
    for (const [method, path, body] of attempts) {
      const response = await viewer.api(method, path, body);
      assert.equal(response.status, 403, `${method} ${path}`);
      assert.equal(((await response.json()) as { error: string }).error, 'forbidden');
    }
    assert.deepEqual([await ruleCount(granted), await auditCount()], before, 'no rule changed, nothing audited');
    const rules = (await (await admin.api('GET', `/api/sites/${granted}/rules`)).json()) as { rules: { id: string; mode: string }[] };
    assert.equal(rules.rules.find((r) => r.id === id)?.mode, 'block');
  });

  it('a viewer creating or revoking API keys, or creating sites, through the API gets 403', async () => {
    assert.equal((await viewer.api('POST', `/api/sites/${granted}/keys`, { label: 'mine' })).status, 403);
    assert.equal((await viewer.api('DELETE', `/api/sites/${granted}/keys/${keyId}`)).status, 403);
    assert.equal((await viewer.api('POST', '/api/sites', { name: 'my own site' })).status, 403);
    const keys = (await (await admin.api('GET', `/api/sites/${granted}/keys`)).json()) as { keys: { revokedAt: number | null }[] };
    assert.deepEqual(keys.keys.map((k) => k.revokedAt), [null], 'the key is still active, no key added');
    const sites = (await (await admin.api('GET', '/api/sites')).json()) as { sites: unknown[] };
    assert.equal(sites.sites.length, 2);
  });

  it('every dashboard form post (add rule, quick block, mode switch, delete, import, new site, new key, revoke) answers 403 to a viewer', async () => {
    const id = encodeURIComponent(await ruleId(granted));
    const before = [await ruleCount(granted), await auditCount()];
    const forms: [string, Record<string, string>][] = [
      [`/sites/${granted}/rules`, { action: 'block', kind: 'ip', value: '198.51.100.3', mode: 'block', confirm: '1' }],
      [`/sites/${granted}/rules/quick`, { kind: 'ip', value: '198.51.100.4', mode: 'block', confirm: '1' }],
      [`/sites/${granted}/rules/${id}/mode`, { mode: 'monitor' }],
      [`/sites/${granted}/rules/${id}/delete`, {}],
      [`/sites/${granted}/rules/import`, { document: '{"block":{"ips":["198.51.100.5"]}}', replace: '1', confirm: '1' }],
      ['/sites', { name: 'viewer site' }],
      [`/sites/${granted}/keys`, { label: 'mine' }],
      [`/sites/${granted}/keys/${keyId}/revoke`, {}],
    ];
    for (const [path, form] of forms) {
      const response = await viewer.request(path, { method: 'POST', form: { ...form, _csrf: viewer.csrf } });
      assert.equal(response.status, 403, path);
      await response.arrayBuffer();
    }
    assert.deepEqual([await ruleCount(granted), await auditCount()], before);
  });

  it('a viewer reading a site not granted gets 404 from the API and the pages, also with the id spelled 0x2, 02, 2e0, +2', async () => {
    const spellings = [String(other), `0x${other.toString(16)}`, `0${other}`, `${other}e0`, `%2B${other}`, `${other}.0`];
    for (const id of spellings) {
      for (const path of [`/api/sites/${id}/rules`, `/api/sites/${id}/rules/export`, `/api/sites/${id}/requests`, `/api/sites/${id}/audit`,
        `/api/sites/${id}/keys`, `/sites/${id}`, `/sites/${id}/rules`, `/sites/${id}/setup`]) {
        const response = await viewer.request(path);
        assert.equal(response.status, 404, path);
        assert.doesNotMatch(await response.text(), /secret other shop/, path);
      }
    }
  });

  it('the site lists a viewer sees (API, Sites page, switcher, first-page redirect) hold only the granted site', async () => {
    const sites = (await (await viewer.api('GET', '/api/sites')).json()) as { sites: { id: number }[] };
    assert.deepEqual(sites.sites.map((s) => s.id), [granted]);
    for (const path of ['/sites', `/sites/${granted}/rules`, '/account']) {
      const page = await (await viewer.request(path)).text();
      assert.match(page, /granted shop/, path);
      assert.doesNotMatch(page, /secret other shop/, path);
    }
    const home = await viewer.request('/');
    assert.equal(home.headers.get('location'), `/sites/${granted}`);
  });

  it('a viewer promoting themselves (API PATCH of their own role, the Users form) gets 403 and stays a viewer', async () => {
    assert.equal((await viewer.api('PATCH', `/api/users/${viewerId}`, { role: 'admin', siteIds: [granted, other] })).status, 403);
    const form = await viewer.request(`/users/${viewerId}/access`, { method: 'POST', form: { _csrf: viewer.csrf, role: 'admin', [`site_${other}`]: '1' } });
    assert.equal(form.status, 403);
    const me = (await (await viewer.request('/api/me')).json()) as { role: string; siteIds: number[] };
    assert.deepEqual([me.role, me.siteIds], ['viewer', [granted]]);
  });

  it('a viewer inviting a user, removing the admin, or reading users and the audit log gets 403', async () => {
    assert.equal((await viewer.api('POST', '/api/users', { email: 'friend@example.test', role: 'admin' })).status, 403);
    assert.equal((await viewer.request('/users', { method: 'POST', form: { _csrf: viewer.csrf, email: 'friend@example.test', role: 'admin' } })).status, 403);
    assert.equal((await viewer.api('DELETE', '/api/users/1')).status, 403);
    assert.equal((await viewer.request('/users/1/remove', { method: 'POST', form: { _csrf: viewer.csrf } })).status, 403);
    for (const path of ['/api/users', '/api/audit', '/users', '/audit']) {
      const response = await viewer.request(path);
      assert.equal(response.status, 403, path);
      assert.doesNotMatch(await response.text(), /admin@example\.test/, path);
    }
    const users = (await (await admin.api('GET', '/api/users')).json()) as { users: { email: string }[] };
    assert.deepEqual(users.users.map((u) => u.email), ['admin@example.test', 'viewer@example.test']);
  });

  it('a viewer announcing a 6 MB rules import is refused 403 on the request head, before a byte of the body is read', async () => {
    const cookie = [...viewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    for (const path of [`/api/sites/${granted}/rules/import`, `/sites/${granted}/rules/import`]) {
      const answer = await sendHeadOnly(hub.url, 'POST', path, {
        'content-type': path.startsWith('/api') ? 'application/json' : 'application/x-www-form-urlencoded',
        'content-length': String(6 * 1024 * 1024 - 1), cookie, 'x-csrf-token': viewer.csrf,
      });
      assert.equal(answer.status, 403, path);
    }
  });

  it('HEAD requests follow the same policy as GET (no reading a forbidden page through HEAD)', async () => {
    assert.equal((await viewer.request('/api/users', { method: 'HEAD' })).status, 403);
    assert.equal((await viewer.request(`/api/sites/${other}/rules`, { method: 'HEAD' })).status, 404);
    assert.equal((await viewer.request(`/api/sites/${granted}/rules`, { method: 'HEAD' })).status, 200);
  });
});

describe('access control: sessions, the last admin and CSRF on the Users forms', () => {
  let hub: TestHub;
  let admin: Client;
  let siteId: number;
  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId } = await createSiteWithKey(admin, 'shop'));
  });
  after(() => hub.stop());

  it('a removed user\'s live session stops working at once: the next API call is 401, the next page a sign-in redirect', async () => {
    const { client: gone, userId } = await inviteAndSignIn(admin, 'leaver@example.test', { role: 'admin', siteIds: [] });
    assert.equal((await gone.request('/api/users')).status, 200, 'works while the user exists');
    assert.equal((await admin.api('DELETE', `/api/users/${userId}`)).status, 204);
    assert.equal((await gone.request('/api/users')).status, 401);
    assert.equal((await gone.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '198.51.100.9', mode: 'block' })).status, 401);
    const page = await gone.request(`/sites/${siteId}`);
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location') ?? '', /^\/login/);
  });

  it('an admin demoted to viewer loses admin rights on the live session at once', async () => {
    const { client: demoted, userId } = await inviteAndSignIn(admin, 'demoted@example.test', { role: 'admin', siteIds: [] });
    assert.equal((await demoted.api('POST', '/api/sites', { name: 'before' })).status, 201);
    assert.equal((await admin.api('PATCH', `/api/users/${userId}`, { role: 'viewer', siteIds: [] })).status, 200);
    assert.equal((await demoted.api('POST', '/api/sites', { name: 'after' })).status, 403);
    assert.equal((await demoted.request(`/api/sites/${siteId}/rules`)).status, 404, 'no site granted');
  });

  it('the last admin removing or demoting themselves gets 409 and stays an admin', async () => {
    const users = (await (await admin.api('GET', '/api/users')).json()) as { users: { id: number; email: string; role: string }[] };
    for (const u of users.users.filter((x) => x.role === 'admin' && x.email !== 'admin@example.test')) {
      assert.equal((await admin.api('DELETE', `/api/users/${u.id}`)).status, 204);
    }
    const self = users.users.find((u) => u.email === 'admin@example.test')!;
    const demote = await admin.api('PATCH', `/api/users/${self.id}`, { role: 'viewer', siteIds: [siteId] });
    assert.equal(demote.status, 409);
    assert.equal(((await demote.json()) as { error: string }).error, 'last_admin');
    assert.equal((await admin.api('DELETE', `/api/users/${self.id}`)).status, 409);
    const form = await admin.request(`/users/${self.id}/remove`, { method: 'POST', form: { _csrf: admin.csrf } });
    assert.equal(form.status, 409);
    assert.match(await form.text(), /last admin/);
    assert.equal(((await (await admin.request('/api/me')).json()) as { role: string }).role, 'admin');
  });

  it('Users forms and the users API without the CSRF token, or from another origin, are refused 403 and change nothing', async () => {
    const { userId } = await inviteAndSignIn(admin, 'target@example.test', { role: 'viewer', siteIds: [] });
    const before = await (await admin.api('GET', '/api/users')).text();
    const noToken: [string, Record<string, string>][] = [
      ['/users', { email: 'csrf@example.test', role: 'admin' }],
      [`/users/${userId}/access`, { role: 'admin' }],
      [`/users/${userId}/remove`, {}],
    ];
    for (const [path, form] of noToken) {
      assert.equal((await admin.request(path, { method: 'POST', form })).status, 403, path);
      assert.equal((await admin.request(path, { method: 'POST', form: { ...form, _csrf: 'forged-token-of-the-right-kind' } })).status, 403, path);
      const crossSite = await admin.request(path, { method: 'POST', form: { ...form, _csrf: admin.csrf }, headers: { origin: 'https://evil.example' } });
      assert.equal(crossSite.status, 403, path);
    }
    assert.equal((await admin.request('/api/users', { method: 'POST', json: { email: 'csrf@example.test', role: 'admin' } })).status, 403);
    assert.equal((await admin.request(`/api/users/${userId}`, { method: 'DELETE' })).status, 403);
    assert.equal(await (await admin.api('GET', '/api/users')).text(), before);
  });
});

describe('access control: the audit log names who did it', () => {
  let hub: TestHub;
  before(async () => { hub = await startTestHub(); });
  after(() => hub.stop());

  it('changes by two admins are recorded under each one\'s email and address, a viewer\'s refused attempt not at all', async () => {
    const first = new Client(hub.url);
    await first.login();
    const { siteId } = await createSiteWithKey(first, 'shop');
    const { client: second } = await inviteAndSignIn(first, 'second@example.test', { role: 'admin', siteIds: [] });
    const { client: viewer } = await inviteAndSignIn(first, 'reader@example.test', { role: 'viewer', siteIds: [siteId] });
    assert.equal((await first.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'path', value: '/wp-admin', mode: 'monitor' })).status, 201);
    const rules = (await (await second.api('GET', `/api/sites/${siteId}/rules`)).json()) as { rules: { id: string }[] };
    assert.equal((await second.api('PATCH', `/api/sites/${siteId}/rules/${rules.rules[0]!.id}`, { mode: 'block' })).status, 200);
    assert.equal((await viewer.api('DELETE', `/api/sites/${siteId}/rules/${rules.rules[0]!.id}`)).status, 403);
    // What the viewer may read of it: the site's log, with the same attribution.
    const log = (await (await viewer.api('GET', `/api/sites/${siteId}/audit`)).json()) as { entries: AuditEntry[] };
    const [update, create] = log.entries.filter((e) => e.action.startsWith('rule.'));
    assert.equal(update?.action, 'rule.update');
    assert.equal(update?.userEmail, 'second@example.test');
    assert.equal(update?.ip, '127.0.0.1');
    assert.equal(update?.target, rules.rules[0]!.id);
    assert.match(update?.before ?? '', /"mode":"monitor"/);
    assert.match(update?.after ?? '', /"mode":"block"/);
    assert.equal(create?.action, 'rule.create');
    assert.equal(create?.userEmail, 'admin@example.test');
    assert.match(create?.after ?? '', /"value":"\/wp-admin"/);
    assert.ok(!log.entries.some((e) => e.action === 'rule.delete'), 'the refused delete left no entry');
    assert.ok(!log.entries.some((e) => e.userEmail === 'reader@example.test'));
  });
});

describe('access control: two hub instances on one PostgreSQL database', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-pg-access-'));
  let db: TestDatabase;
  let a: Hub<HubStore>;
  let b: Hub<HubStore>;
  before(async () => {
    db = await freshDatabase('moat_access');
    const start = (name: string) => createHub({
      dataDir: join(scratch, name), databaseUrl: db.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL,
      adminPassword: ADMIN_PASSWORD, rollupIntervalMs: 60_000, print: () => undefined, databasePoolSize: 4,
    });
    [a, b] = await Promise.all([start('a'), start('b')]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a user removed on instance A is refused at once on instance B, and a viewer on B cannot write through either', async () => {
    const adminA = new Client(a.url);
    await adminA.login();
    const { siteId } = await createSiteWithKey(adminA, 'shop');
    const { client: viewerA } = await inviteAndSignIn(adminA, 'pg-viewer@example.test', { role: 'viewer', siteIds: [siteId] });
    // The same session cookie presented to the other instance, as a load balancer would route it.
    const viewerB = new Client(b.url);
    for (const [k, v] of viewerA.cookies) viewerB.cookies.set(k, v);
    viewerB.csrf = viewerA.csrf;
    assert.equal((await viewerB.request(`/api/sites/${siteId}/rules`)).status, 200);
    assert.equal((await viewerB.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '198.51.100.7', mode: 'block' })).status, 403);
    const { client: leaver, userId } = await inviteAndSignIn(adminA, 'pg-leaver@example.test', { role: 'admin', siteIds: [] });
    const leaverB = new Client(b.url);
    for (const [k, v] of leaver.cookies) leaverB.cookies.set(k, v);
    assert.equal((await leaverB.request('/api/users')).status, 200);
    assert.equal((await adminA.api('DELETE', `/api/users/${userId}`)).status, 204);
    assert.equal((await leaverB.request('/api/users')).status, 401);
    const log = (await (await adminA.api('GET', '/api/audit?limit=10')).json()) as { entries: AuditEntry[] };
    // The admin's entries (the leaver's own sign-in and password change are logged in between).
    assert.deepEqual(log.entries.filter((e) => e.userEmail === ADMIN_EMAIL).slice(0, 2).map((e) => [e.action, e.target, e.userEmail]), [
      ['user.remove', 'pg-leaver@example.test', ADMIN_EMAIL],
      ['user.invite', 'pg-leaver@example.test', ADMIN_EMAIL],
    ]);
  });
});
