// Express and Koa on AWS Lambda through serverless-http: the adapter builds an IncomingMessage from the API
// Gateway event, marked `complete` from the start, whose body its own _read() pushes once someone reads.
// Moat took `complete` with nothing buffered for a body already gone and judged none: `q=<script>` reached
// the route past a parameter rule and attack detection, on every request, counted `unreadable`. Now such
// a body is pulled through the same peek (nothing taken: the app's parser reads it whole). Hono on Lambda
// (its own handler) hands Moat a Web Request with no socket: the client was unknown to Moat, so no IP rule
// applied; it is now the source address API Gateway writes in the event. The real serverless-http and
// Hono handler, called as the Lambda runtime calls them, with API Gateway's event shapes. An Application
// Load Balancer's event names no address at all: with `aws-alb` trusted, the client is the one it appended
// to X-Forwarded-For; otherwise unknown, never what the client wrote there. Netlify (Hono's
// handler, or a plain function wrapped in withMoatFetch) names the client in its Context: the same hole,
// closed the same way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import serverless from 'serverless-http';
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { handle as handleOnNetlify } from 'hono/netlify';
import { moat } from '../../src/adapters/express.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { withMoatFetch } from '../../src/adapters/web.js';
import type { Firewall } from '../../src/firewall/firewall.js';
import { firewallOn } from '../adapters-helpers.js';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;
interface LambdaAnswer { statusCode: number; body: string }

const FORM = 'application/x-www-form-urlencoded';

/** An API Gateway HTTP API (payload 2.0) event; `base64` sends the body as API Gateway sends binary bodies. */
function httpApiEvent(body: string, type: string, options: { ip?: string; base64?: boolean } = {}): object {
  return {
    version: '2.0', routeKey: '$default', rawPath: '/submit', rawQueryString: '',
    headers: { 'content-type': type, host: 'api.example.test', 'user-agent': 'Mozilla/5.0' },
    requestContext: {
      http: { method: 'POST', path: '/submit', sourceIp: options.ip ?? '198.51.100.7', protocol: 'HTTP/1.1', userAgent: 'Mozilla/5.0' },
      requestId: 'request-1', stage: '$default', domainName: 'api.example.test',
    },
    body: options.base64 === true ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 === true,
  };
}

/** A REST API (payload 1.0) event. */
function restApiEvent(body: string, type: string, ip = '198.51.100.8'): object {
  return {
    httpMethod: 'POST', path: '/submit', resource: '/{proxy+}', headers: { 'Content-Type': type, Host: 'api.example.test' },
    multiValueHeaders: { 'Content-Type': [type], Host: ['api.example.test'] }, queryStringParameters: null,
    requestContext: { identity: { sourceIp: ip }, requestId: 'request-2', stage: 'prod' },
    body, isBase64Encoded: false,
  };
}

async function call(handler: Handler, event: object): Promise<LambdaAnswer> {
  return await handler(event, {}) as LambdaAnswer;
}

function expressHandler(firewall: Firewall): Handler {
  const app = express();
  app.use(moat(firewall));
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  app.post('/submit', (req, res) => { res.send(JSON.stringify(req.body)); });
  return serverless(app) as Handler;
}

test('serverless-http (Express): a body on Lambda is judged, every event shape; the app still parses it', async () => {
  const firewall = firewallOn({ block: { ips: ['203.0.113.9'] }, attacks: 'block' });
  const handler = expressHandler(firewall);
  const attackForm = 'name=ann&q=%3Cscript%3Ealert(1)%3C%2Fscript%3E';
  const attackJson = JSON.stringify({ q: "x' UNION SELECT password FROM users--" });
  assert.equal((await call(handler, httpApiEvent(attackForm, FORM))).statusCode, 403, 'a form');
  assert.equal((await call(handler, httpApiEvent(attackJson, 'application/json'))).statusCode, 403, 'JSON');
  assert.equal((await call(handler, httpApiEvent(attackForm, FORM, { base64: true }))).statusCode, 403, 'a body API Gateway sent base64-encoded');
  assert.equal((await call(handler, restApiEvent(attackForm, FORM))).statusCode, 403, 'a REST API event');
  const clean = await call(handler, httpApiEvent('name=ann&q=hello', FORM));
  assert.equal(clean.statusCode, 200);
  assert.deepEqual(JSON.parse(clean.body), { name: 'ann', q: 'hello' }, 'the app parses the body Moat read');
  const cleanJson = await call(handler, restApiEvent(JSON.stringify({ q: 'hello' }), 'application/json'));
  assert.deepEqual(JSON.parse(cleanJson.body), { q: 'hello' });
  // The client is the address API Gateway names (serverless-http's socket), never a header.
  assert.equal((await call(handler, httpApiEvent('q=hello', FORM, { ip: '203.0.113.9' }))).statusCode, 403, 'a blocked client');
  assert.equal(firewall.stats().bodiesUninspected.unreadable, 0, 'nothing counted unreadable');
});

test('serverless-http (Express): a body longer than body.limit is judged on its beginning and reaches the app whole', async () => {
  const firewall = firewallOn({ block: { params: ['<script'] } }, { body: { limit: 1024 } });
  const handler = expressHandler(firewall);
  assert.equal((await call(handler, httpApiEvent(`q=%3Cscript%3E&pad=${'p'.repeat(5000)}`, FORM))).statusCode, 403);
  const long = await call(handler, httpApiEvent(`pad=${'p'.repeat(5000)}&q=fine`, FORM));
  assert.equal(long.statusCode, 200);
  assert.equal((JSON.parse(long.body) as { pad: string }).pad.length, 5000, 'the app got the whole body');
  assert.equal(firewall.stats().bodiesTruncated, 2);
});

test('serverless-http (Koa): the body is judged; @koa/bodyparser after Moat reads it whole', async () => {
  const firewall = firewallOn({ attacks: 'block' });
  const app = new Koa();
  app.use(koaMoat(firewall));
  app.use(bodyParser({ enableTypes: ['json', 'form'] }));
  app.use((ctx) => { ctx.body = JSON.stringify((ctx.request as { body?: unknown }).body ?? null); });
  const handler = serverless(app) as Handler;
  assert.equal((await call(handler, httpApiEvent('q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', FORM))).statusCode, 403);
  const clean = await call(handler, httpApiEvent('q=hello', FORM));
  assert.equal(clean.statusCode, 200);
  assert.deepEqual(JSON.parse(clean.body), { q: 'hello' });
  assert.equal(firewall.stats().bodiesUninspected.unreadable, 0);
});

test('Hono on AWS Lambda (hono/aws-lambda): the client is the source address API Gateway names, never a header; bodies are judged', async () => {
  const firewall = firewallOn({ block: { ips: ['203.0.113.9'] }, attacks: 'block' });
  const app = new Hono();
  app.use(honoMoat(firewall));
  app.post('/submit', async (c) => c.text(JSON.stringify(await c.req.parseBody())));
  const handler = handle(app) as Handler;
  const blockedClient = '203.0.113.9';
  assert.equal((await call(handler, httpApiEvent('q=hello', FORM, { ip: blockedClient }))).statusCode, 403, 'HTTP API: requestContext.http.sourceIp');
  assert.equal((await call(handler, restApiEvent('q=hello', FORM, blockedClient))).statusCode, 403, 'REST API: requestContext.identity.sourceIp');
  // A client cannot name another address: the header is not what Moat reads.
  const forged = { ...httpApiEvent('q=hello', FORM, { ip: blockedClient }) as { headers: Record<string, string> } };
  forged.headers = { ...forged.headers, 'x-forwarded-for': '198.51.100.7' };
  assert.equal((await call(handler, forged)).statusCode, 403, 'a forged X-Forwarded-For changes nothing');
  assert.equal((await call(handler, httpApiEvent('q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', FORM))).statusCode, 403, 'a body');
  const clean = await call(handler, httpApiEvent('q=hello', FORM));
  assert.equal(clean.statusCode, 200);
  assert.deepEqual(JSON.parse(clean.body), { q: 'hello' });
  assert.equal(firewall.stats().noPeerAddress, 0, 'every client known');
});

/** An Application Load Balancer's event: no source address, only the X-Forwarded-For it appends the client to. */
function albEvent(forwardedFor: string | undefined): object {
  const headers: Record<string, string> = { host: 'lb.example.test', 'user-agent': 'Mozilla/5.0', 'x-forwarded-port': '443', 'x-forwarded-proto': 'https' };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop/0123456789abcdef' } },
    httpMethod: 'GET', path: '/products', queryStringParameters: {}, headers, body: '', isBase64Encoded: false,
  };
}

test('Hono on Lambda behind an Application Load Balancer: the client the ALB appended to X-Forwarded-For, only with aws-alb trusted', async () => {
  const blocked = '203.0.113.9';
  const handlerWith = (options: { trustedProxies?: string[] }) => {
    const firewall = firewallOn({ block: { ips: [blocked] } }, options);
    const app = new Hono();
    app.use(honoMoat(firewall));
    app.get('/products', (c) => c.text('ok'));
    return { firewall, handler: handle(app) as Handler };
  };
  const trusting = handlerWith({ trustedProxies: ['aws-alb'] });
  assert.equal((await call(trusting.handler, albEvent(blocked))).statusCode, 403, 'the address the ALB appended');
  // In its default `append` mode the ALB adds the client after whatever the client sent: the left is the client's own.
  assert.equal((await call(trusting.handler, albEvent(`198.51.100.7, ${blocked}`))).statusCode, 403, 'a client prepending another address changes nothing');
  assert.equal((await call(trusting.handler, albEvent(`${blocked}, 198.51.100.7`))).statusCode, 200, 'a client naming the blocked address is not believed');
  assert.equal(trusting.firewall.stats().noPeerAddress, 0, 'every client known');
  assert.equal((await call(trusting.handler, albEvent(undefined))).statusCode, 200, 'no header: the client is unknown, judged by the other rules');
  assert.equal(trusting.firewall.stats().ipHeaderMissing, 1, 'a missing header is counted');
  assert.equal(trusting.firewall.stats().noPeerAddress, 1);

  // Not trusted: the header is whatever reached the ALB, so it is never read and the client is unknown.
  const untrusting = handlerWith({ trustedProxies: [] });
  assert.equal((await call(untrusting.handler, albEvent(blocked))).statusCode, 200, 'the header is not read unless aws-alb is trusted');
  assert.equal(untrusting.firewall.stats().noPeerAddress, 1, 'counted as a request without a client address');
  const failClosed = firewallOn({ block: { ips: [blocked] } }, { failClosed: true });
  const app = new Hono();
  app.use(honoMoat(failClosed));
  app.get('/products', (c) => c.text('ok'));
  assert.equal((await call(handle(app) as Handler, albEvent('198.51.100.7'))).statusCode, 503, 'failClosed: a request without a client address is refused');
});

/** A Netlify Context as the platform hands it to a function (the fields Moat reads, and a few beside them). */
function netlifyContext(ip: string): object {
  return {
    ip, requestId: '01JABCDEF', geo: { city: 'Amsterdam', country: { code: 'NL', name: 'Netherlands' } },
    site: { id: 'site', name: 'shop', url: 'https://shop.example' }, deploy: { id: 'deploy', context: 'production', published: true },
    account: { id: 'team' }, params: {}, cookies: { get: () => undefined },
  };
}

test('Netlify (hono/netlify, or a function wrapped in withMoatFetch): the client is the address Netlify\'s Context names, never a header', async () => {
  const firewall = firewallOn({ block: { ips: ['203.0.113.9'] }, attacks: 'block' });
  const app = new Hono();
  app.use(honoMoat(firewall));
  app.post('/submit', async (c) => c.text(JSON.stringify(await c.req.parseBody())));
  const onNetlify = handleOnNetlify(app) as (request: Request, context: unknown) => Response | Promise<Response>;
  const post = (body: string, headers: Record<string, string> = {}) =>
    new Request('https://shop.example/submit', { method: 'POST', headers: { 'content-type': FORM, ...headers }, body });
  assert.equal((await onNetlify(post('q=hello'), netlifyContext('203.0.113.9'))).status, 403, 'the Context\'s ip');
  assert.equal((await onNetlify(post('q=hello', { 'x-forwarded-for': '198.51.100.7', 'x-nf-client-connection-ip': '198.51.100.7' }),
    netlifyContext('203.0.113.9'))).status, 403, 'headers naming another client change nothing');
  assert.equal((await onNetlify(post('q=%3Cscript%3Ealert(1)%3C%2Fscript%3E'), netlifyContext('198.51.100.7'))).status, 403, 'a body');
  const clean = await onNetlify(post('q=hello'), netlifyContext('198.51.100.7'));
  assert.equal(clean.status, 200);
  assert.deepEqual(JSON.parse(await clean.text()), { q: 'hello' });
  assert.equal(firewall.stats().noPeerAddress, 0, 'every client known');
  // A headerless stand-in for a Context (no requestId or geo) names no client: unknown, never guessed.
  assert.equal((await onNetlify(post('q=hello', { 'x-forwarded-for': '198.51.100.7' }), { ip: '198.51.100.7' })).status, 200);
  assert.equal(firewall.stats().noPeerAddress, 1);

  // A plain Netlify function: `export default withMoatFetch(handler)`, the Context its second argument.
  const fn = withMoatFetch((_request: Request, _context: unknown) => new Response('ok'), firewall);
  assert.equal((await fn(new Request('https://shop.example/'), netlifyContext('203.0.113.9'))).status, 403);
  assert.equal((await fn(new Request('https://shop.example/'), netlifyContext('2001:db8::5'))).status, 200);
});
