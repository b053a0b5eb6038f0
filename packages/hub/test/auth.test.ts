import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { LoginRateLimiter } from '../src/auth/login-rate-limit.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey, startTestHub, type TestHub } from './support/hub-fixture.js';

describe('hub authentication', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ loginRateLimit: { maxFailures: 20, windowMs: 60_000 } });
  });
  after(() => hub.stop());

  it('signs in with the right password: HttpOnly SameSite cookie, scrypt hash at rest', async () => {
    const client = new Client(hub.url);
    const response = await client.login();
    assert.equal(response.status, 303);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('moat_session='));
    assert.ok(cookie, 'session cookie set');
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.ok(client.csrf.length >= 20, 'the session has a CSRF token');
    const overview = await client.request('/sites');
    assert.equal(overview.status, 200);
    assert.match(await overview.text(), new RegExp(ADMIN_EMAIL.replace('.', '\\.')));

    const db = new Database(hub.config.databaseFile, { readonly: true });
    try {
      const row = db.prepare('SELECT password_hash FROM users WHERE email = ?').get(ADMIN_EMAIL) as { password_hash: string };
      assert.match(row.password_hash, /^scrypt\$\d+\$\d+\$\d+\$/);
      assert.ok(!row.password_hash.includes(ADMIN_PASSWORD));
      const tokens = db.prepare('SELECT token_hash FROM sessions').pluck().all() as string[];
      const raw = client.cookies.get('moat_session')!;
      assert.ok(tokens.length > 0 && !tokens.includes(raw), 'only the session token hash is stored');
    } finally {
      db.close();
    }
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    const client = new Client(hub.url);
    const wrong = await client.login(ADMIN_EMAIL, 'not the password');
    assert.equal(wrong.status, 401);
    assert.equal(client.cookies.has('moat_session'), false);
    const unknown = await new Client(hub.url).login('nobody@example.test', 'whatever1234');
    assert.equal(unknown.status, 401);
  });

  it('refuses a login post without the login CSRF token', async () => {
    const client = new Client(hub.url);
    const response = await client.request('/login', { method: 'POST', form: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } });
    assert.equal(response.status, 403);
    assert.equal(client.cookies.has('moat_session'), false);
  });

  it('rate-limits failed sign-ins per client IP, even with the right password afterwards', async () => {
    const limited = await startTestHub({ loginRateLimit: { maxFailures: 3, windowMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await new Client(limited.url).login(ADMIN_EMAIL, `guess-${i}-xxxx`)).status, 401);
      const blocked = await new Client(limited.url).login(ADMIN_EMAIL, ADMIN_PASSWORD);
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      assert.equal(blocked.headers.getSetCookie().some((c) => c.startsWith('moat_session=')), false);
    } finally {
      await limited.stop();
    }
  });

  it('keeps every dashboard and API route closed without a valid session', async () => {
    const { siteId, apiKey } = await createSiteWithKey(await signedIn(hub));
    const anonymous = new Client(hub.url);
    assert.equal((await anonymous.request('/api/sites')).status, 401);
    assert.equal((await anonymous.request(`/api/sites/${siteId}/rules`)).status, 401);
    const page = await anonymous.request(`/sites/${siteId}`);
    assert.equal(page.status, 303);
    assert.match(page.headers.get('location')!, /^\/login\?next=/);

    // A forged or stale cookie is no session.
    const forged = new Client(hub.url);
    forged.cookies.set('moat_session', 'A'.repeat(43));
    assert.equal((await forged.request('/api/sites')).status, 401);
    // An API key is not a session, neither as a cookie nor as a bearer token.
    const keyAsCookie = new Client(hub.url);
    keyAsCookie.cookies.set('moat_session', apiKey);
    assert.equal((await keyAsCookie.request('/api/sites')).status, 401);
    const bearer = await fetch(`${hub.url}/api/sites`, { headers: { authorization: `Bearer ${apiKey}` } });
    assert.equal(bearer.status, 401);
    // Nothing was created by the anonymous attempts.
    const create = await anonymous.request('/api/sites', { method: 'POST', json: { name: 'evil' } });
    assert.equal(create.status, 401);
    assert.ok(!(await hub.store.listSites()).some((s) => s.name === 'evil'));
  });

  it('requires the CSRF token on every changing request', async () => {
    const client = await signedIn(hub);
    const noToken = await client.request('/api/sites', { method: 'POST', json: { name: 'no-csrf' } });
    assert.equal(noToken.status, 403);
    const wrongToken = await client.request('/api/sites', { method: 'POST', json: { name: 'no-csrf' }, headers: { 'x-csrf-token': 'x'.repeat(32) } });
    assert.equal(wrongToken.status, 403);
    const formNoToken = await client.request('/sites', { method: 'POST', form: { name: 'no-csrf' } });
    assert.equal(formNoToken.status, 403);
    const crossOrigin = await client.request('/api/sites', {
      method: 'POST', json: { name: 'no-csrf' }, headers: { 'x-csrf-token': client.csrf, origin: 'https://evil.example' },
    });
    assert.equal(crossOrigin.status, 403);
    assert.ok(!(await hub.store.listSites()).some((s) => s.name === 'no-csrf'));
    const ok = await client.request('/sites', { method: 'POST', form: { name: 'with-csrf', _csrf: client.csrf } });
    assert.equal(ok.status, 303);
    assert.ok((await hub.store.listSites()).some((s) => s.name === 'with-csrf'));
  });

  it('ends the session on sign-out', async () => {
    const client = await signedIn(hub);
    const cookie = client.cookies.get('moat_session')!;
    assert.equal((await client.request('/logout', { method: 'POST', form: { _csrf: client.csrf } })).status, 303);
    const replay = new Client(hub.url);
    replay.cookies.set('moat_session', cookie);
    assert.equal((await replay.request('/api/sites')).status, 401);
  });

  it('sends security headers with pages', async () => {
    const response = await fetch(`${hub.url}/login`);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  });
});

describe('first run without a configured password', () => {
  it('creates the admin with a printed one-time password that must be changed', async () => {
    const printed: string[] = [];
    const hub = await startTestHub({ adminPassword: undefined, adminEmail: 'first@example.test', print: (l) => printed.push(l) });
    try {
      const password = hub.firstRun.oneTimePassword!;
      assert.ok(password && password.length >= 16);
      assert.ok(printed.some((l) => l.includes(password)));
      const client = new Client(hub.url);
      const login = await client.login('first@example.test', password);
      assert.equal(login.headers.get('location'), '/account');
      assert.equal((await client.api('POST', '/api/sites', { name: 'x' })).status, 403);
      const change = await client.request('/account/password', { method: 'POST', form: { _csrf: client.csrf, current: password, password: 'a new long password' } });
      assert.equal(change.status, 303);
      const again = new Client(hub.url);
      assert.equal((await again.login('first@example.test', 'a new long password')).status, 303);
      assert.equal((await again.api('POST', '/api/sites', { name: 'x' })).status, 201);
    } finally {
      await hub.stop();
    }
  });
});

describe('failed sign-in limits (deterministic clock)', () => {
  it('locks an account for one client only, a client across accounts at five times the limit, and only slows an account down', () => {
    let now = 1_000_000;
    const limiter = new LoginRateLimiter({ maxFailures: 3, windowMs: 60_000, accountSlowdownMs: 500 }, () => now);
    for (let i = 0; i < 3; i++) limiter.recordFailure('Admin@Example.test', '198.51.100.1');
    assert.deepEqual(limiter.check('admin@example.test', '198.51.100.1'), { retryAfterMs: 60_000, slowdownMs: 500 });
    // Another client: not refused, only slowed down while the account keeps failing.
    assert.deepEqual(limiter.check('admin@example.test', '198.51.100.2'), { retryAfterMs: 0, slowdownMs: 500 });
    // The window passes: all forgiven.
    now += 60_001;
    assert.deepEqual(limiter.check('admin@example.test', '198.51.100.1'), { retryAfterMs: 0, slowdownMs: 0 });

    // Spraying accounts from one client: refused there after 15 failures, for any account.
    for (let i = 0; i < 14; i++) limiter.recordFailure(`user${i}@example.test`, '203.0.113.9');
    assert.equal(limiter.check('fresh@example.test', '203.0.113.9').retryAfterMs, 0);
    limiter.recordFailure('user14@example.test', '203.0.113.9');
    assert.ok(limiter.check('fresh@example.test', '203.0.113.9').retryAfterMs > 0);
    assert.equal(limiter.check('fresh@example.test', '203.0.113.10').retryAfterMs, 0);

    // A success forgives that client, not the account-wide count.
    for (let i = 0; i < 3; i++) limiter.recordFailure('ops@example.test', '192.0.2.1');
    limiter.recordSuccess('ops@example.test', '192.0.2.1');
    assert.deepEqual(limiter.check('ops@example.test', '192.0.2.1'), { retryAfterMs: 0, slowdownMs: 500 });
  });

  it('keeps a flood of failures on one account cheap and bounded', () => {
    const limiter = new LoginRateLimiter({ maxFailures: 10, windowMs: 60_000, maxKeys: 1000 }, () => 5);
    for (let i = 0; i < 50_000; i++) limiter.recordFailure('admin@example.test', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const limit = limiter.check('admin@example.test', '192.0.2.200');
    assert.deepEqual(limit, { retryAfterMs: 0, slowdownMs: 2000 });
    assert.ok((limiter as unknown as { failures: Map<string, number[]> }).failures.size <= 1000);
    assert.ok([...(limiter as unknown as { failures: Map<string, number[]> }).failures.values()].every((t) => t.length <= 50));
  });
});

async function signedIn(hub: TestHub): Promise<Client> {
  const client = new Client(hub.url);
  const response = await client.login();
  assert.equal(response.status, 303);
  return client;
}
