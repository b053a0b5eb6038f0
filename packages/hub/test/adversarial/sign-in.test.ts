// Attacks on the hub's sign-in: open redirects through `next`, header injection, keeping the one-time
// password, and locking the real admin out by failing sign-ins on purpose. All against a real hub.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, startTestHub, type TestHub } from '../support/hub-fixture.js';

interface SignIn {
  status: number;
  location: string | null;
}

/** The sign-in form as a browser posts it, from the client address `forwardedFor` (X-Forwarded-For). */
async function signIn(base: string, options: { email?: string; password?: string; next?: string; forwardedFor?: string } = {}): Promise<SignIn> {
  const client = new Client(base);
  const headers: Record<string, string> = options.forwardedFor ? { 'x-forwarded-for': options.forwardedFor } : {};
  const page = await (await client.request('/login', { headers })).text();
  const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const response = await client.request('/login', {
    method: 'POST', headers,
    form: { email: options.email ?? ADMIN_EMAIL, password: options.password ?? ADMIN_PASSWORD, _csrf: token, next: options.next ?? '/' },
  });
  await response.arrayBuffer();
  return { status: response.status, location: response.headers.get('location') };
}

const OFF_SITE_NEXT = [
  '/%09/evil.example', '/\t/evil.example', '//evil.example', '/\\evil.example', '/%5Cevil.example', 'https:evil.example',
  'https://evil.example/', '/%2F%2Fevil.example', '/%252F%252Fevil.example', '%2F%2Fevil.example', '/%2F/evil.example',
  '/%5C%5Cevil.example', ' //evil.example', '/%0d%0a/evil.example',
];

describe('sign-in: where next leads', () => {
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub({ loginRateLimit: { maxFailures: 100, windowMs: 60_000 } });
  });
  after(() => hub.stop());

  // Each sign-in costs a scrypt hash, so the redirect itself is checked for the main shapes, and the
  // form's hidden field (the same check) for every variant.
  for (const next of ['/%09/evil.example', '//evil.example', '/\\evil.example', 'https:evil.example', '/%252F%252Fevil.example']) {
    it(`POST /login with next=${JSON.stringify(next)} redirects on this hub, not to evil.example`, async () => {
      const result = await signIn(hub.url, { next });
      assert.equal(result.status, 303);
      assert.equal(result.location, '/');
    });
  }

  it('GET /login?next=… puts "/" in the form for every off-site variant, never the attacker\'s target', async () => {
    for (const next of OFF_SITE_NEXT) {
      const page = await (await fetch(`${hub.url}/login?next=${encodeURIComponent(next)}`)).text();
      assert.match(page, /name="next" value="\/"/, next);
      assert.doesNotMatch(page, /evil\.example/, next);
    }
  });

  it('a same-site next with query and fragment is kept, normalised to a valid header', async () => {
    assert.equal((await signIn(hub.url, { next: '/sites/1/requests?ua=Mozilla%2F5.0%20x#top' })).location, '/sites/1/requests?ua=Mozilla%2F5.0%20x#top');
    assert.equal((await signIn(hub.url, { next: '/sites/ü' })).location, '/sites/%C3%BC');
  });

  for (const next of ['/\n', '/a\r\nSet-Cookie: moat_session=x', '/\u2028x']) {
    it(`next=${JSON.stringify(next)} gives a redirect on this hub, never a 500`, async () => {
      const result = await signIn(hub.url, { next });
      assert.equal(result.status, 303);
      assert.match(result.location!, /^\/(?!\/)[\x21-\x7e]*$/);
    });
  }

  it('GET /login with a control character, a bad escape or a repeated next answers 200', async () => {
    for (const query of ['next=%0A', 'next=%0D%0ASet-Cookie:x=1', 'next=%', 'next=/a&next=/b', `next=${'/a'.repeat(5000)}`]) {
      const response = await fetch(`${hub.url}/login?${query}`);
      assert.equal(response.status, 200, query);
      assert.match(await response.text(), /name="next" value="\/"/, query);
    }
  });
});

describe('sign-in: the one-time password', () => {
  it('the forced change refuses the one-time password as the new password', async () => {
    const hub = await startTestHub({ adminPassword: undefined, adminEmail: 'first@example.test' });
    try {
      const otp = hub.firstRun.oneTimePassword!;
      const client = new Client(hub.url);
      assert.equal((await client.login('first@example.test', otp)).headers.get('location'), '/account');
      const same = await client.request('/account/password', { method: 'POST', form: { _csrf: client.csrf, current: otp, password: otp } });
      assert.equal(same.status, 400);
      assert.match(await same.text(), /must differ/);
      // Still forced to change it: the dashboard stays closed, and the old password still signs in.
      assert.equal((await client.api('POST', '/api/sites', { name: 'x' })).status, 403);
      assert.equal((await new Client(hub.url).login('first@example.test', otp)).headers.get('location'), '/account');
    } finally {
      await hub.stop();
    }
  });
});

describe('sign-in: failed attempts cannot lock the admin out', () => {
  let hub: TestHub;
  const slowdownMs = 300;
  before(async () => {
    // Behind a proxy on 127.0.0.1 that sets X-Forwarded-For: each test address is a distinct client.
    hub = await startTestHub({ trustProxy: '127.0.0.1', loginRateLimit: { maxFailures: 10, windowMs: 60_000, accountSlowdownMs: slowdownMs } });
  });
  after(() => hub.stop());

  it('ten failed sign-ins from one address lock that address out of the account, even with the right password', async () => {
    for (let i = 0; i < 10; i++) {
      assert.equal((await signIn(hub.url, { password: `guess ${i}`, forwardedFor: '198.51.100.7' })).status, 401);
    }
    assert.equal((await signIn(hub.url, { forwardedFor: '198.51.100.7' })).status, 429);
  });

  it('after ten failures on the account, the right password from a new address still signs in, slowed down', async () => {
    const started = Date.now();
    const result = await signIn(hub.url, { forwardedFor: '203.0.113.50' });
    assert.equal(result.status, 303);
    assert.equal(result.location, '/');
    assert.ok(Date.now() - started >= slowdownMs, 'the attempt waited for the slowdown');
    // The attacker stays locked out.
    assert.equal((await signIn(hub.url, { forwardedFor: '198.51.100.7' })).status, 429);
  });

  it('failures spread over twelve addresses lock none of them out and not the admin', async () => {
    for (let i = 0; i < 12; i++) {
      assert.equal((await signIn(hub.url, { password: `spread ${i}`, forwardedFor: `192.0.2.${i + 1}` })).status, 401);
    }
    assert.equal((await signIn(hub.url, { forwardedFor: '203.0.113.51' })).status, 303);
  });
});

describe('sign-in: a hub that trusts no proxy', () => {
  it('rotating X-Forwarded-For does not escape the per-client limit', async () => {
    const hub = await startTestHub({ loginRateLimit: { maxFailures: 3, windowMs: 60_000, accountSlowdownMs: 0 } });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await signIn(hub.url, { password: `guess ${i}`, forwardedFor: `10.0.0.${i + 1}` })).status, 401);
      }
      assert.equal((await signIn(hub.url, { forwardedFor: '10.0.0.99' })).status, 429);
    } finally {
      await hub.stop();
    }
  });
});
