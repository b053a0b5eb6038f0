// Users with roles and per-site access, and the audit log, through a real hub: inviting from the Users
// page, the invited user's first sign-in, and an audit entry for every path that changes rules.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';
import { inviteAndSignIn, NEW_PASSWORD } from './support/invited-user.js';

interface AuditEntry {
  id: number; at: number; action: string; userEmail: string; ip: string | null; siteId: number | null; target: string | null;
  before: string | null; after: string | null;
}

describe('users: invite, first sign-in, access changes, removal', () => {
  let hub: TestHub;
  let admin: Client;
  let siteA: number;
  let siteB: number;
  before(async () => {
    hub = await startTestHub();
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId: siteA } = await createSiteWithKey(admin, 'Site A'));
    ({ siteId: siteB } = await createSiteWithKey(admin, 'Site B'));
  });
  after(() => hub.stop());

  it('an invite from the Users page shows a one-time password once; the user must replace it, then sees only the sites granted', async () => {
    const invited = await admin.request('/users', {
      method: 'POST', form: { _csrf: admin.csrf, email: 'ops@example.test', role: 'viewer', [`site_${siteB}`]: '1' },
    });
    assert.equal(invited.status, 201);
    assert.equal(invited.headers.get('cache-control'), 'no-store');
    const page = await invited.text();
    const password = /<code class="secret">([^<]+)<\/code>/.exec(page)?.[1];
    assert.ok(password && password.length >= 16, 'the page shows the one-time password');
    assert.doesNotMatch(await (await admin.request('/users')).text(), new RegExp(password), 'shown once: not on the next visit');
    const stored = await hub.store.findUserByEmail('ops@example.test');
    assert.ok(stored && !stored.passwordHash.includes(password), 'only a hash is stored');
    assert.deepEqual([stored.role, stored.siteIds, stored.mustChangePassword], ['viewer', [siteB], true]);

    const ops = new Client(hub.url);
    const signIn = await ops.login('ops@example.test', password);
    assert.equal(signIn.headers.get('location'), '/account', 'sent to change the one-time password first');
    assert.equal((await ops.request(`/sites/${siteB}`)).headers.get('location'), '/account');
    assert.equal((await ops.request(`/api/sites/${siteB}/rules`)).status, 403);
    const changed = await ops.request('/account/password', { method: 'POST', form: { _csrf: ops.csrf, current: password, password: NEW_PASSWORD } });
    assert.equal(changed.status, 303);
    assert.equal((await ops.request('/')).headers.get('location'), `/sites/${siteB}`);
    const sitesPage = await (await ops.request('/sites')).text();
    assert.match(sitesPage, /Site B/);
    assert.doesNotMatch(sitesPage, /Site A/);
    assert.doesNotMatch(sitesPage, /href="\/users"/, 'viewers get no admin links');
    assert.match(await (await admin.request('/sites')).text(), /href="\/users"/, 'admins do');
  });

  it('the Users page changes a viewer\'s sites and role, and removes a user; the audit log records each step', async () => {
    const { userId, client } = await inviteAndSignIn(admin, 'analyst@example.test', { role: 'viewer', siteIds: [siteA] });
    const users = await (await admin.request('/users')).text();
    assert.match(users, /analyst@example\.test/);
    assert.match(users, new RegExp(`action="/users/${userId}/access"`));

    const moved = await admin.request(`/users/${userId}/access`, { method: 'POST', form: { _csrf: admin.csrf, role: 'viewer', [`site_${siteB}`]: '1' } });
    assert.equal(moved.status, 303);
    assert.equal((await client.request(`/api/sites/${siteA}/rules`)).status, 404, 'site A no longer granted');
    assert.equal((await client.request(`/api/sites/${siteB}/rules`)).status, 200);

    const promoted = await admin.request(`/users/${userId}/access`, { method: 'POST', form: { _csrf: admin.csrf, role: 'admin' } });
    assert.equal(promoted.status, 303);
    assert.equal((await client.api('POST', '/api/sites', { name: 'Site C' })).status, 201, 'an admin now');

    const removed = await admin.request(`/users/${userId}/remove`, { method: 'POST', form: { _csrf: admin.csrf } });
    assert.equal(removed.headers.get('location'), '/users?done=user-removed');
    assert.equal((await client.request('/api/me')).status, 401);

    const log = (await (await admin.api('GET', '/api/audit?limit=20')).json()) as { entries: AuditEntry[] };
    const mine = log.entries.filter((e) => e.target === 'analyst@example.test').map((e) => [e.action, e.before, e.after]);
    assert.deepEqual(mine, [
      ['user.remove', JSON.stringify({ role: 'admin', siteIds: [] }), null],
      ['user.update', JSON.stringify({ role: 'viewer', siteIds: [siteB] }), JSON.stringify({ role: 'admin', siteIds: [] })],
      ['user.update', JSON.stringify({ role: 'viewer', siteIds: [siteA] }), JSON.stringify({ role: 'viewer', siteIds: [siteB] })],
      ['user.invite', null, JSON.stringify({ role: 'viewer', siteIds: [siteA] })],
    ]);
    assert.ok(log.entries.some((e) => e.action === 'site.create' && e.after === JSON.stringify({ name: 'Site C' }) && e.userEmail === 'analyst@example.test'));
    assert.ok(log.entries.some((e) => e.action === 'key.create' && e.siteId === siteA && e.userEmail === 'admin@example.test'));
  });

  it('invites are validated: a second invite of the same address (any case) is 409, a bad email or role is 400', async () => {
    assert.equal((await admin.api('POST', '/api/users', { email: 'twice@example.test', role: 'viewer' })).status, 201);
    assert.equal((await admin.api('POST', '/api/users', { email: 'TWICE@example.test', role: 'admin' })).status, 409);
    assert.equal((await admin.api('POST', '/api/users', { email: 'not an email', role: 'viewer' })).status, 400);
    assert.equal((await admin.api('POST', '/api/users', { email: 'x@example.test', role: 'owner' })).status, 400);
    assert.equal((await admin.api('PATCH', '/api/users/99999', { role: 'viewer', siteIds: [] })).status, 404);
    const form = await admin.request('/users', { method: 'POST', form: { _csrf: admin.csrf, email: 'twice@example.test', role: 'viewer' } });
    assert.equal(form.status, 409);
    assert.match(await form.text(), /a user with that email exists/);
  });
});

describe('audit log: every path that changes rules writes an entry', () => {
  let hub: TestHub;
  let admin: Client;
  let siteId: number;
  let clock = Date.UTC(2026, 0, 15, 12, 0, 0);
  const entries = async () => ((await (await admin.api('GET', `/api/sites/${siteId}/audit?limit=100`)).json()) as { entries: AuditEntry[] }).entries;
  const latest = async () => (await entries())[0]!;
  const form = (path: string, fields: Record<string, string>) => admin.request(path, { method: 'POST', form: { _csrf: admin.csrf, ...fields } });

  before(async () => {
    hub = await startTestHub({ now: () => clock });
    admin = new Client(hub.url);
    await admin.login();
    ({ siteId } = await createSiteWithKey(admin, 'shop'));
  });
  after(() => hub.stop());

  it('JSON API: create, update, delete, import', async () => {
    const created = await admin.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '203.0.113.7', mode: 'block', note: 'scanner' });
    const { rule } = (await created.json()) as { rule: { id: string } };
    let e = await latest();
    assert.deepEqual([e.action, e.target, e.userEmail, e.ip, e.at], ['rule.create', rule.id, 'admin@example.test', '127.0.0.1', Math.floor(clock / 1000)]);
    assert.deepEqual(JSON.parse(e.after!), { action: 'block', kind: 'ip', value: '203.0.113.7', mode: 'block', note: 'scanner' });

    await admin.api('PATCH', `/api/sites/${siteId}/rules/${rule.id}`, { mode: 'monitor' });
    e = await latest();
    assert.deepEqual([e.action, JSON.parse(e.before!).mode, JSON.parse(e.after!).mode], ['rule.update', 'block', 'monitor']);

    await admin.api('DELETE', `/api/sites/${siteId}/rules/${rule.id}`);
    e = await latest();
    assert.deepEqual([e.action, e.target, JSON.parse(e.before!).value, e.after], ['rule.delete', rule.id, '203.0.113.7', null]);

    await admin.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { ips: ['198.51.100.1', '198.51.100.2'] } }, replace: true });
    e = await latest();
    assert.equal(e.action, 'rule.import');
    assert.deepEqual(JSON.parse(e.before!), { replaced: 0 });
    assert.equal(JSON.parse(e.after!).rules, 2);
  });

  it('dashboard forms: add rule, mode switch, delete, import; one-click block and its monitor switch', async () => {
    assert.equal((await form(`/sites/${siteId}/rules`, { action: 'block', kind: 'userAgent', value: 'sqlmap', mode: 'block', confirm: '1' })).status, 303);
    let e = await latest();
    assert.deepEqual([e.action, JSON.parse(e.after!).value], ['rule.create', 'sqlmap']);
    const ruleId = e.target!;

    assert.equal((await form(`/sites/${siteId}/rules/${encodeURIComponent(ruleId)}/mode`, { mode: 'monitor' })).status, 303);
    e = await latest();
    assert.deepEqual([e.action, e.target, JSON.parse(e.after!).mode], ['rule.update', ruleId, 'monitor']);

    assert.equal((await form(`/sites/${siteId}/rules/${encodeURIComponent(ruleId)}/delete`, {})).status, 303);
    assert.deepEqual([(await latest()).action, (await latest()).target], ['rule.delete', ruleId]);

    assert.equal((await form(`/sites/${siteId}/rules/import`, { document: '{"block":{"paths":["/wp-login.php"]}}', confirm: '1' })).status, 303);
    e = await latest();
    assert.deepEqual([e.action, JSON.parse(e.after!).replace], ['rule.import', false]);

    assert.equal((await form(`/sites/${siteId}/rules/quick`, { kind: 'ip', value: '192.0.2.44', mode: 'block', confirm: '1' })).status, 303);
    e = await latest();
    assert.deepEqual([e.action, JSON.parse(e.after!).value], ['rule.create', '192.0.2.44']);
    assert.equal((await form(`/sites/${siteId}/rules/quick`, { kind: 'ip', value: '192.0.2.44', mode: 'monitor', confirm: '1' })).status, 303);
    e = await latest();
    assert.deepEqual([e.action, JSON.parse(e.before!).mode, JSON.parse(e.after!).mode], ['rule.update', 'block', 'monitor']);
  });

  it('a rule reaching its expiry is recorded once, by the hub, at the next retention pass', async () => {
    const expires = clock + 60_000;
    const created = await admin.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '203.0.113.99', mode: 'block', expires });
    const { rule } = (await created.json()) as { rule: { id: string } };
    await hub.pruneNow();
    assert.notEqual((await latest()).action, 'rule.expire', 'not expired yet');
    clock += 120_000;
    await hub.pruneNow();
    const e = await latest();
    assert.deepEqual([e.action, e.target, e.userEmail, e.ip], ['rule.expire', rule.id, 'hub', null]);
    await hub.pruneNow();
    await admin.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'ip', value: '203.0.113.100', mode: 'block' });
    assert.equal((await entries()).filter((x) => x.action === 'rule.expire').length, 1, 'recorded once, not at every later build');
  });

  it('the Rules page shows recent changes with who made them; the Audit log page pages through everything', async () => {
    const rules = await (await admin.request(`/sites/${siteId}/rules`)).text();
    assert.match(rules, /Recent changes/);
    assert.match(rules, /admin@example\.test/);
    assert.match(rules, /data-audit-action="rule\.expire"/);
    assert.match(rules, /mode: block → monitor/, 'an update shows only what changed, before → after');
    const audit = await (await admin.request('/audit')).text();
    assert.match(audit, /created API key/);
    assert.match(audit, /data-audit-action="site\.create"/);
    // Sign-ins are audited and named in words, like every other action.
    assert.match(audit, /<tr data-audit-action="auth\.signin">[\s\S]*?signed in/);
    const page = (await (await admin.api('GET', '/api/audit?limit=3')).json()) as { entries: AuditEntry[]; next: number };
    assert.equal(page.entries.length, 3);
    const older = (await (await admin.api('GET', `/api/audit?limit=3&before=${page.next}`)).json()) as { entries: AuditEntry[] };
    assert.ok(older.entries.every((x) => x.id < page.next));
    assert.equal((await admin.api('GET', '/api/audit?limit=100000')).status, 400, 'the page size is bounded');
  });

  it('the stored log is append-only: an UPDATE of an entry is refused by the database', () => {
    assert.throws(() => hub.store.db.prepare("UPDATE audit_log SET user_email = 'someone else'").run(), /append-only/);
  });

  it('entries older than the rollup retention are pruned like reports', async () => {
    const before = (await entries()).length;
    assert.ok(before > 0);
    clock += (hub.config.retention.rollupSeconds + 60) * 1000;
    await hub.pruneNow();
    assert.equal((await hub.store.listAudit({ limit: 500 })).entries.filter((x) => x.siteId === siteId && x.action !== 'rule.expire').length, 0);
  });
});
