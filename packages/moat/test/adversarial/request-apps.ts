// Real apps for the request-interpretation attacks: the same small route table on Express, Fastify, Koa
// and Hono, each started twice on 127.0.0.1 — unguarded, to prove the router really serves an attack
// form (so the rule matters), and guarded by one Moat firewall, to prove Moat now refuses it.
// Every handler answers `<route>:<what the framework read>`, so a test can see which handler ran.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import Koa from 'koa';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { moat as koaMoat } from '../../src/adapters/koa.js';
import { moat as honoMoat } from '../../src/adapters/hono.js';
import { withMoat } from '../../src/adapters/node.js';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import type { MoatOptions } from '../../src/firewall/options.js';
import { close, listen, rulesFile, type RawResponse, type RequestSpec } from '../adapters-helpers.js';

export type Framework = 'express' | 'express-listener' | 'fastify' | 'fastify-listener' | 'fastify-lenient' | 'koa' | 'hono';

/** One framework's app twice: `plain` without Moat, `guarded` behind `firewall`. */
export interface AppPair {
  plain: number;
  guarded: number;
}

export interface Target {
  firewall: Firewall;
  apps: Record<Framework, AppPair>;
}

type Start = (firewall: Firewall | null) => Promise<number>;

async function serve(server: Server): Promise<number> {
  const port = await listen(server);
  after(() => close(server));
  return port;
}

/** `where`: Moat as Express middleware, or judging in the node:http listener before Express. */
const expressApp = (where: 'middleware' | 'listener'): Start => async (firewall) => {
  const app = express();
  app.set('env', 'test'); // no stack traces on stderr for the 4xx the attacks provoke
  if (firewall !== null && where === 'middleware') app.use(expressMoat(firewall));
  app.use('/wp-admin', (req, res) => { res.send(`wp-admin:${req.originalUrl}`); });
  app.use('/api', (req, res) => { res.send(`api:${req.originalUrl}`); });
  app.get('/admin/secret/:file', (req, res) => { res.send(`secret:${req.params.file}`); });
  app.all('/login', (_req, res) => { res.send('login:ok'); });
  app.get('/feed', (_req, res) => { res.send('feed:ok'); });
  app.get('/host', (req, res) => { res.send(`host:${req.hostname}`); });
  // body-parser reads a body whatever the method, GET included, and inflates gzip, deflate and br.
  app.all('/form', express.urlencoded({ extended: false }), (req, res) => { res.json(req.body ?? null); });
  app.all('/json', express.json(), (req, res) => { res.json(req.body ?? null); });
  app.get('/:page', (req, res) => { res.send(`page:${req.params.page}`); });
  return serve(createServer(firewall !== null && where === 'listener' ? withMoat(app, firewall) : app));
};

/** `where`: Moat as Fastify's plugin, or judging in the node:http listener before Fastify (its `serverFactory`). */
function fastifyApp(options: FastifyServerOptions, where: 'plugin' | 'listener' = 'plugin'): Start {
  return async (firewall) => {
    const app: FastifyInstance = firewall !== null && where === 'listener'
      ? Fastify({ ...options, serverFactory: (handler) => createServer(withMoat(handler, firewall)) })
      : Fastify(options);
    if (firewall !== null && where === 'plugin') await app.register(fastifyMoat, { firewall });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.get('/wp-admin/*', async (request) => `wp-admin:${(request.params as Record<string, string>)['*']}`);
    app.get('/admin/secret/:file', async (request) => `secret:${(request.params as { file: string }).file}`);
    app.all('/login', async () => 'login:ok');
    // Fastify reads the body as sent: it inflates nothing, whatever Content-Encoding says.
    app.post('/form', async (request) => request.body ?? null);
    app.get('/feed', async () => 'feed:ok');
    app.get('/host', async (request) => `host:${request.hostname}`);
    app.get('/query', async (request) => `query:${JSON.stringify(request.query)}`);
    app.get('/:page', async (request) => `page:${(request.params as { page: string }).page}`);
    app.get('/*', async (request) => `star:${(request.params as Record<string, string>)['*']}`);
    await app.listen({ port: 0, host: '127.0.0.1' });
    after(() => app.close());
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  };
}

const startKoa: Start = async (firewall) => {
  const app = new Koa();
  if (firewall !== null) app.use(koaMoat(firewall));
  // Koa has no router: apps test ctx.path, the path as written (not decoded, nothing resolved).
  app.use((ctx) => {
    if (ctx.path.startsWith('/wp-admin')) ctx.body = `wp-admin:${ctx.path}`;
    else if (ctx.path === '/login') ctx.body = 'login:ok';
    else if (ctx.path === '/host') ctx.body = `host:${ctx.hostname}`;
    else ctx.body = `koa:${ctx.path}`;
  });
  return serve(createServer(app.callback()));
};

const startHono: Start = async (firewall) => {
  const app = new Hono();
  if (firewall !== null) app.use(honoMoat(firewall));
  app.get('/wp-admin/*', (c) => c.text(`wp-admin:${c.req.path}`));
  app.all('/login', (c) => c.text('login:ok'));
  // parseBody() reads request.formData(): the bytes as sent, whatever Content-Encoding says.
  app.post('/form', async (c) => c.json(await c.req.parseBody()));
  app.get('/:page', (c) => c.text(`page:${c.req.param('page')}`));
  app.all('*', (c) => c.text(`star:${c.req.path}`));
  return serve(createAdaptorServer({ fetch: app.fetch }) as Server);
};

const STARTERS: Record<Framework, Start> = {
  express: expressApp('middleware'),
  'express-listener': expressApp('listener'),
  fastify: fastifyApp({}),
  'fastify-listener': fastifyApp({}, 'listener'),
  // Router options some apps turn on: `/login;x` and `/login/` then reach the `/login` route.
  // (Fastify's FastifyRouterOptions type lags behind the router: it lacks useSemicolonDelimiter.)
  'fastify-lenient': fastifyApp({
    routerOptions: { useSemicolonDelimiter: true, ignoreTrailingSlash: true } as FastifyServerOptions['routerOptions'],
  }),
  koa: startKoa,
  hono: startHono,
};

/** Starts `frameworks` twice each; the guarded ones share one firewall on a real rules file. */
export async function target(rules: object, frameworks: readonly Framework[], options: MoatOptions = {}): Promise<Target> {
  const file = rulesFile(rules);
  after(() => file.cleanup());
  const firewall = createFirewall({ rules: file.path, logger: false, ...options });
  after(() => firewall.close());
  const apps = {} as Record<Framework, AppPair>;
  for (const name of frameworks) {
    const start = STARTERS[name];
    apps[name] = { plain: await start(null), guarded: await start(firewall) };
  }
  return { firewall, apps };
}

/**
 * Like send() of the adapter helpers, but the client keeps its side open until the answer has come, as
 * real clients do: a half-closed socket makes Node end the exchange before a parser that inflates
 * asynchronously (express.urlencoded() with gzip) can answer. Bodies here are small; no chunked replies.
 * `later`: the rest of the body, sent once `after` settles (Content-Length counts it).
 */
export function sendOpen(port: number, spec: RequestSpec, later?: { bytes: Buffer; after: Promise<void> }): Promise<RawResponse> {
  const headers: Record<string, string> = { host: 'example.test', connection: 'close', ...spec.headers };
  const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body);
  headers['content-length'] = String(body.length + (later?.bytes.length ?? 0));
  let head = `${spec.method ?? 'GET'} ${spec.path ?? '/'} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no response head: ${raw.slice(0, 200)}`));
      const [statusLine, ...lines] = raw.slice(0, split).split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) parsed[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1]), headers: parsed, body: raw.slice(split + 4) });
      socket.destroy();
    });
    socket.write(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body]));
    later?.after.then(() => socket.write(later.bytes), reject);
  });
}

/**
 * For the listener-guarded apps: `framework`'s unguarded app serves `request` (its body starts with
 * `served`), and both the app guarded in the node:http listener (`<framework>-listener`) and the one guarded
 * by the framework's own middleware or plugin answer `status`.
 */
export async function servedThenRefused(t: Target, framework: 'express' | 'fastify', request: RequestSpec, served: string, status = 403): Promise<void> {
  const what = `${request.method ?? 'GET'} ${request.path}`;
  const plain = await sendOpen(t.apps[framework].plain, request);
  assert.equal(plain.status, 200, `${what}: ${plain.body.slice(0, 120)}`);
  assert.ok(plain.body.startsWith(served), `${what} served by ${plain.body}, expected ${served}`);
  const listener = await sendOpen(t.apps[`${framework}-listener`].guarded, request);
  assert.equal(listener.status, status, `${what} reached ${framework} through Moat in the listener: ${listener.body.slice(0, 120)}`);
  assert.equal((await sendOpen(t.apps[framework].guarded, request)).status, status, `${what}: the framework's own adapter answers the same`);
}

/** The rules the listener tests judge by: path, host and parameter blocks, and a rate limit on /login. */
export const LISTENER_RULES = {
  block: { paths: ['/wp-admin', '/admin/secret'], hosts: ['admin.example.com'], params: ['<script'] },
  rateLimits: [{ path: '/login', method: 'POST', limit: 2, window: '60s' }],
};

/**
 * One test per path form `framework`'s router serves to a /wp-admin or /admin/secret handler (`served`:
 * what it answers), each refused by the app guarded in the node:http listener and by the framework's own adapter.
 */
export function listenerPathTests(framework: 'express' | 'fastify', attacks: readonly (readonly [path: string, served: string])[]): void {
  const name = framework === 'express' ? 'Express' : 'Fastify';
  for (const [path, served] of attacks) {
    test(`GET ${path} is blocked by a /wp-admin or /admin/secret path rule on ${name} guarded in the node:http listener`, async () => {
      const t = await target(LISTENER_RULES, [framework, `${framework}-listener`]);
      await servedThenRefused(t, framework, { path }, served);
    });
  }
}
