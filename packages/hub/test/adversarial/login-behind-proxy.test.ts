// Attack: guessing a dashboard password through a load balancer. The failed sign-in limit must key on the
// real client, not on the balancer (else one attacker locks every user out, or the limit never bites),
// and a client must not escape it by writing its own X-Forwarded-For — neither through the balancer
// (which appends the real address) nor by reaching the hub directly (an address the hub does not trust).
// Real parts: a hub listening on 127.0.0.1, a real HTTP balancer in front of it that connects from its
// own address (127.0.0.9, the only one the hub trusts) and appends X-Forwarded-For, and clients that
// connect from distinct loopback addresses (127.0.0.2, 127.0.0.3), as distinct machines would.
import { strict as assert } from 'node:assert';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestHub, type TestHub } from '../support/hub-fixture.js';

const BALANCER_ADDRESS = '127.0.0.9';
const MAX_FAILURES = 3;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from a chosen local address (a distinct client machine on loopback). */
function send(from: string, port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, localAddress: from, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A failed (or, with the right password, successful) sign-in: the form first, then the post. */
async function signIn(from: string, port: number, password: string, forwardedFor?: string): Promise<number> {
  const extra: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  const form = await send(from, port, 'GET', '/login', extra);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
  const cookie = (form.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const body = new URLSearchParams({ email: ADMIN_EMAIL, password, _csrf: csrf, next: '/' }).toString();
  const answer = await send(from, port, 'POST', '/login', {
    ...extra, cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)),
  }, body);
  return answer.status;
}

/**
 * The balancer: forwards every request to the hub from its own address and appends the address the
 * request came from to X-Forwarded-For, as nginx's `$proxy_add_x_forwarded_for` and cloud balancers do.
 */
function startBalancer(hubPort: number): Promise<Server> {
  const server = createServer((req, res) => {
    const seen = req.headers['x-forwarded-for'];
    const forwarded = `${seen ? `${seen}, ` : ''}${req.socket.remoteAddress}`;
    const upstream = httpRequest({
      host: '127.0.0.1', port: hubPort, method: req.method, path: req.url, localAddress: BALANCER_ADDRESS, agent: false,
      headers: { ...req.headers, 'x-forwarded-for': forwarded },
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502).end(); });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('sign-in limit behind a load balancer keys on the real client', () => {
  let hub: TestHub;
  let balancer: Server;
  let balancerPort: number;
  let hubPort: number;

  before(async () => {
    hub = await startTestHub({
      trustProxy: [BALANCER_ADDRESS], loginRateLimit: { maxFailures: MAX_FAILURES, windowMs: 15 * 60_000, accountSlowdownMs: 0 },
    });
    hubPort = Number(new URL(hub.url).port);
    balancer = await startBalancer(hubPort);
    balancerPort = (balancer.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => balancer.close(() => resolve()));
    await hub.stop();
  });

  it('failed sign-ins of one client through the balancer lock that client out, not a second client behind the same balancer', async () => {
    for (let i = 0; i < MAX_FAILURES; i++) assert.equal(await signIn('127.0.0.2', balancerPort, 'wrong password'), 401);
    assert.equal(await signIn('127.0.0.2', balancerPort, ADMIN_PASSWORD), 429, 'the guessing client is limited');
    assert.equal(await signIn('127.0.0.3', balancerPort, ADMIN_PASSWORD), 303, 'another client behind the same balancer signs in');
  });

  it('a client writing its own X-Forwarded-For through the balancer is still keyed on its real address', async () => {
    const statuses: number[] = [];
    // A new forged address on every try: the balancer appends the real one, and only that one is believed.
    for (let i = 0; i < MAX_FAILURES + 2; i++) statuses.push(await signIn('127.0.0.4', balancerPort, 'wrong password', `198.51.100.${i + 1}`));
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    assert.equal(await signIn('127.0.0.4', balancerPort, ADMIN_PASSWORD, '198.51.100.200'), 429);
  });

  it('a client reaching the hub directly with a forged X-Forwarded-For is keyed on its own address (the hub trusts only the balancer)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILURES + 2; i++) statuses.push(await signIn('127.0.0.5', hubPort, 'wrong password', `203.0.113.${i + 1}`));
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    // Claiming to be a client that is not limited does not help either.
    assert.equal(await signIn('127.0.0.5', hubPort, ADMIN_PASSWORD, '127.0.0.3'), 429);
    // Nor claiming to be the balancer's client list with the balancer's own address in it.
    assert.equal(await signIn('127.0.0.5', hubPort, ADMIN_PASSWORD, `127.0.0.3, ${BALANCER_ADDRESS}`), 429);
  });
});
