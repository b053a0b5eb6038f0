// Bounds on the password checks behind sign-in and the password change, against a real hub. Each check
// is a 32 MiB scrypt on libuv's thread pool (the pool file reads use too), so the tests count the scrypt
// calls in flight through a wrapper around node:crypto's scrypt that holds each answer until released:
// every request of a burst has then either been answered, or holds a check, or waits for one, and the
// counts are read in that state. Nothing here depends on how fast anything runs.
import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { afterEach, describe, it } from 'node:test';
import type { LoginRateLimiter } from '../src/auth/login-rate-limit.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, startTestHub, type TestHub } from './support/hub-fixture.js';
import { until } from './support/until.js';

/** Counts scrypt calls and how many run at once; while holding, each answer waits for release(). */
class ScryptProbe {
  calls = 0;
  inFlight = 0;
  peak = 0;
  private holding = true;
  private readonly held: (() => void)[] = [];
  private readonly original = crypto.scrypt;

  constructor() {
    const cjs = crypto as unknown as { default: { scrypt: unknown } };
    cjs.default.scrypt = (...args: unknown[]) => {
      const callback = args.pop() as (error: Error | null, key: Buffer) => void;
      this.calls += 1;
      this.inFlight += 1;
      this.peak = Math.max(this.peak, this.inFlight);
      (this.original as (...a: unknown[]) => void)(...args, (error: Error | null, key: Buffer) => {
        const answer = () => {
          this.inFlight -= 1;
          callback(error, key);
        };
        if (this.holding) this.held.push(answer);
        else answer();
      });
    };
    // The hub imported `scrypt` by name: this updates that binding too.
    syncBuiltinESMExports();
  }

  release(): void {
    this.holding = false;
    for (const answer of this.held.splice(0)) answer();
  }

  uninstall(): void {
    this.release();
    (crypto as unknown as { default: { scrypt: unknown } }).default.scrypt = this.original;
    syncBuiltinESMExports();
  }
}

interface Answer {
  status: number;
  retryAfter: string | null;
}

/** A login form token and its cookie, reused by every attempt of a burst. */
async function loginForm(hub: TestHub): Promise<{ token: string; cookie: string }> {
  const client = new Client(hub.url);
  const page = await (await client.request('/login')).text();
  const token = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  return { token, cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
}

function postLogin(hub: TestHub, form: { token: string; cookie: string }, email: string, password: string, forwardedFor?: string): Promise<Answer> {
  return fetch(`${hub.url}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: new URLSearchParams({ email, password, _csrf: form.token, next: '/' }).toString(),
  }).then(async (r) => {
    await r.arrayBuffer();
    return { status: r.status, retryAfter: r.headers.get('retry-after') };
  });
}

function tally(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** The limiter's own counts where it has them (the checks waiting hub-wide, the attempts waiting on an account). */
function waitingIn(limiter: LoginRateLimiter): number {
  const l = limiter as Partial<LoginRateLimiter>;
  return (l.checks?.stats().waiting ?? 0) + (l.lanes?.stats().waiting ?? 0);
}

/** Sends `count` attempts at once and waits until each is answered, checking, or waiting for a check. */
async function burst(hub: TestHub, probe: ScryptProbe, count: number, send: (i: number) => Promise<Answer>) {
  const answered: Answer[] = [];
  const all = Promise.all(Array.from({ length: count }, (_, i) => send(i).then((a) => {
    answered.push(a);
    return a;
  })));
  await until(() => answered.length + probe.inFlight + waitingIn(hub.context.loginLimiter) === count, 'every attempt to be answered, checking or waiting');
  return { answeredWhileHeld: [...answered], all };
}

const METRICS_TOKEN = 'sign-in-metrics-token-0123456789abcdef';

describe('sign-in: password checks are bounded', () => {
  let hub: TestHub | undefined;
  let probe: ScryptProbe | undefined;
  afterEach(async () => {
    probe?.uninstall();
    probe = undefined;
    await hub?.stop();
    hub = undefined;
  });

  it('30 sign-ins with made-up emails from 30 addresses: 2 checks at once, 16 waiting, the rest 503 with Retry-After, counted', async () => {
    hub = await startTestHub({ trustProxy: '127.0.0.1', selfProtection: false, loginRateLimit: { maxFailures: 10, windowMs: 60_000, accountSlowdownMs: 0 }, metricsToken: METRICS_TOKEN });
    const form = await loginForm(hub);
    probe = new ScryptProbe();
    const { answeredWhileHeld, all } = await burst(hub, probe, 30, (i) => postLogin(hub!, form, `nobody${i}@example.test`, 'x', `198.51.100.${i + 1}`));
    assert.equal(probe.inFlight, 2, 'two checks running while the rest wait or are refused');
    assert.equal(answeredWhileHeld.length, 12);
    assert.ok(answeredWhileHeld.every((a) => a.status === 503 && Number(a.retryAfter) >= 1), JSON.stringify(answeredWhileHeld));
    probe.release();
    const answers = await all;
    assert.deepEqual(tally(answers), { 401: 18, 503: 12 });
    assert.equal(probe.peak, 2, 'never more than two checks at once');
    assert.equal(probe.calls, 18, 'a refused attempt costs no check');
    const stats = hub.context.loginLimiter.checks.stats();
    assert.deepEqual({ refused: stats.refused, completed: stats.completed, peakRunning: stats.peakRunning, running: stats.running, waiting: stats.waiting },
      { refused: 12, completed: 18, peakRunning: 2, running: 0, waiting: 0 });
    // And an operator sees the flood on /metrics.
    const metrics = await (await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    assert.match(metrics, /^moat_hub_password_checks_total\{outcome="refused"\} 12$/m);
    assert.match(metrics, /^moat_hub_password_checks_total\{outcome="completed"\} 18$/m);
    assert.match(metrics, /^moat_hub_password_checks_waiting 0$/m);
    assert.match(metrics, /^# TYPE moat_hub_password_checks_total counter$/m);
  });

  it('30 concurrent wrong passwords from one address with a limit of 5: five checks, one at a time, 25 refused 429', async () => {
    hub = await startTestHub({ selfProtection: false, loginRateLimit: { maxFailures: 5, windowMs: 60_000, accountSlowdownMs: 0 } });
    const form = await loginForm(hub);
    probe = new ScryptProbe();
    const { answeredWhileHeld, all } = await burst(hub, probe, 30, (i) => postLogin(hub!, form, ADMIN_EMAIL, `wrong guess ${i}`));
    assert.equal(answeredWhileHeld.length, 25, 'only the attempts within the limit wait for a check');
    assert.ok(answeredWhileHeld.every((a) => a.status === 429 && Number(a.retryAfter) > 0));
    probe.release();
    assert.deepEqual(tally(await all), { 401: 5, 429: 25 });
    assert.equal(probe.calls, 5, 'exactly the limit was checked');
    assert.equal(probe.peak, 1, 'one check at a time on one account');
    // The limit holds afterwards too, for the right password from this address.
    assert.equal((await postLogin(hub, form, ADMIN_EMAIL, ADMIN_PASSWORD)).status, 429);
  });

  it('guesses at one account from 8 addresses take turns; the owner still signs in afterwards', async () => {
    hub = await startTestHub({ trustProxy: '127.0.0.1', selfProtection: false, loginRateLimit: { maxFailures: 20, windowMs: 60_000, accountSlowdownMs: 0 } });
    const form = await loginForm(hub);
    probe = new ScryptProbe();
    const { answeredWhileHeld, all } = await burst(hub, probe, 8, (i) => postLogin(hub!, form, ADMIN_EMAIL, `spread ${i}`, `192.0.2.${i + 1}`));
    assert.equal(probe.inFlight, 1, 'one check on the account at a time');
    // One checking, four waiting their turn (the per-account queue), three told to retry shortly.
    assert.equal(answeredWhileHeld.length, 3);
    assert.ok(answeredWhileHeld.every((a) => a.status === 429 && Number(a.retryAfter) >= 1));
    probe.release();
    assert.deepEqual(tally(await all), { 401: 5, 429: 3 });
    assert.equal(probe.peak, 1);
    assert.equal(hub.context.loginLimiter.lanes.stats().refused, 3, 'counted');
    assert.equal((await postLogin(hub, form, ADMIN_EMAIL, ADMIN_PASSWORD, '203.0.113.7')).status, 303);
  });
});

describe('password change and the audit log', () => {
  let hub: TestHub | undefined;
  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
  });

  async function auditActions(client: Client): Promise<{ action: string; target: string | null; userEmail: string }[]> {
    const page = await (await client.api('GET', '/api/audit?limit=200')).json() as { entries: { action: string; target: string | null; userEmail: string }[] };
    return page.entries;
  }

  it('wrong current passwords count as failed sign-ins: refused 429 past the limit, even the right one', async () => {
    hub = await startTestHub({ trustProxy: '127.0.0.1', loginRateLimit: { maxFailures: 3, windowMs: 60_000, accountSlowdownMs: 0 } });
    const client = new Client(hub.url);
    assert.equal((await client.login()).status, 303);
    const change = (current: string) => client.request('/account/password', {
      method: 'POST', form: { _csrf: client.csrf, current, password: 'a brand new password 1' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await change(`guess ${i} xxxx`)).status);
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
    const right = await change(ADMIN_PASSWORD);
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    // Still the old password (from another address: this one is locked out of the account for the window).
    const form = await loginForm(hub);
    assert.equal((await postLogin(hub, form, ADMIN_EMAIL, 'a brand new password 1', '203.0.113.9')).status, 401);
    assert.equal((await postLogin(hub, form, ADMIN_EMAIL, ADMIN_PASSWORD, '203.0.113.10')).status, 303);
    const entries = await auditActions(client);
    assert.equal(entries.filter((e) => e.action === 'user.password').length, 0);
    assert.equal(entries.filter((e) => e.action === 'auth.signin_failures' && e.target === ADMIN_EMAIL).length, 1, 'one entry at the limit, not one per guess');
  });

  it('records sign-ins, a password change, sign-outs, and one entry when an account reaches the failure limit', async () => {
    hub = await startTestHub({ trustProxy: '127.0.0.1', loginRateLimit: { maxFailures: 3, windowMs: 60_000, accountSlowdownMs: 0 } });
    const form = await loginForm(hub);
    // Seven failures from seven addresses: the account reaches the limit once.
    for (let i = 0; i < 7; i++) assert.equal((await postLogin(hub, form, ADMIN_EMAIL, `wrong ${i}`, `198.51.100.${i + 1}`)).status, 401);
    // Made-up emails leave no entry.
    for (let i = 0; i < 5; i++) assert.equal((await postLogin(hub, form, 'nobody@example.test', `wrong ${i}`, `198.51.100.${i + 20}`)).status, 401);
    const client = new Client(hub.url);
    assert.equal((await client.login()).status, 303);
    const changed = await client.request('/account/password', { method: 'POST', form: { _csrf: client.csrf, current: ADMIN_PASSWORD, password: 'a brand new password 1' } });
    assert.equal(changed.status, 303);
    // The change started a fresh session, with its own CSRF token.
    client.csrf = ((await (await client.request('/api/me')).json()) as { csrfToken: string }).csrfToken;
    const entries = await auditActions(client);
    const actions = entries.map((e) => e.action);
    assert.equal(actions.filter((a) => a === 'auth.signin_failures').length, 1);
    assert.equal(actions.filter((a) => a === 'auth.signin').length, 1);
    assert.equal(actions.filter((a) => a === 'user.password').length, 1);
    assert.ok(entries.every((e) => e.target !== 'nobody@example.test'));
    assert.equal((await client.request('/logout', { method: 'POST', form: { _csrf: client.csrf } })).status, 303);
    const admin = new Client(hub.url);
    assert.equal((await admin.login(ADMIN_EMAIL, 'a brand new password 1')).status, 303);
    const after = (await auditActions(admin)).map((e) => e.action);
    assert.equal(after.filter((a) => a === 'auth.signout').length, 1);
    assert.equal(after.filter((a) => a === 'auth.signin').length, 2);
  });
});
