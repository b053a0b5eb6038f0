// The Fastify adapter with real Fastify 5 on a real socket: a plugin adding an onRequest hook. It has
// fastify-plugin semantics (skip-override): it joins the context it is registered in, so at the root it
// guards every route, and inside an encapsulated plugin only that plugin's routes and its children.
// The same conformance also holds for Moat judging in the node:http listener, before Fastify, through
// Fastify's `serverFactory` option and withMoat (no Fastify hook runs for it: startInListener). Fastify 4,
// which many apps still run, takes the same plugin.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Fastify, { type FastifyInstance } from 'fastify';
import { moat } from '../src/adapters/fastify.js';
import { withMoat } from '../src/adapters/node.js';
import { createFirewall, type Firewall } from '../src/firewall/firewall.js';
import { STANDARD_RULES, adapterConformance, rulesFile, send } from './adapters-helpers.js';

function formParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

async function listenApp(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  after(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Fastify 4 (installed as `fastify4`); its typings are Fastify 5's, which cover what is used here. */
const Fastify4 = createRequire(import.meta.url)('fastify4') as typeof Fastify;

async function start(firewall: Firewall, lib: typeof Fastify = Fastify): Promise<number> {
  const app = lib();
  formParser(app);
  await app.register(moat, { firewall });
  app.post('/login', async () => 'ok');
  app.post('/form', async (request) => request.body);
  app.get('/*', async () => 'hello');
  return listenApp(app);
}

adapterConformance('fastify', start);

adapterConformance('fastify 4', (firewall) => start(firewall, Fastify4));

/** The same app with Moat in the server's listener: `Fastify({ serverFactory })`, no plugin. */
async function startInListener(firewall: Firewall): Promise<number> {
  const app = Fastify({ serverFactory: (handler) => createServer(withMoat(handler, firewall)) });
  formParser(app);
  app.post('/login', async () => 'ok');
  app.post('/form', async (request) => request.body);
  app.get('/*', async () => 'hello');
  return listenApp(app);
}

adapterConformance('fastify, Moat in the listener (serverFactory)', startInListener);

test('fastify: registered at the root it guards every route, those of encapsulated plugins and 404s included', async () => {
  const rules = rulesFile({ block: { paths: ['/wp-admin', '/nested/secret'] } });
  after(() => rules.cleanup());
  const app = Fastify();
  await app.register(moat, { rules: rules.path, logger: false });
  await app.register(async (child) => {
    child.get('/nested/*', async () => 'child');
  });
  app.get('/', async () => 'root');
  const port = await listenApp(app);
  assert.equal((await send(port, { path: '/nested/secret' })).status, 403);
  assert.equal((await send(port, { path: '/nested/ok' })).body, 'child');
  assert.equal((await send(port, { path: '/no-route/wp-admin' })).status, 403);
  assert.equal((await send(port, { path: '/no-route' })).status, 404);
  assert.equal((await send(port, { path: '/' })).body, 'root');
});

test('fastify: registered inside an encapsulated plugin it guards that plugin only, not its siblings', async () => {
  const rules = rulesFile({ block: { paths: ['/wp-admin'] } });
  after(() => rules.cleanup());
  const app = Fastify();
  await app.register(async (admin) => {
    await admin.register(moat, { rules: rules.path, logger: false });
    admin.get('/wp-admin', async () => 'guarded route');
    await admin.register(async (grandchild) => {
      grandchild.get('/deeper/wp-admin', async () => 'grandchild');
    });
  }, { prefix: '/guarded' });
  await app.register(async (sibling) => {
    sibling.get('/wp-admin', async () => 'sibling route');
  }, { prefix: '/open' });
  app.get('/wp-admin', async () => 'root route');
  const port = await listenApp(app);
  assert.equal((await send(port, { path: '/guarded/wp-admin' })).status, 403);
  assert.equal((await send(port, { path: '/guarded/deeper/wp-admin' })).status, 403);
  assert.equal((await send(port, { path: '/open/wp-admin' })).body, 'sibling route');
  assert.equal((await send(port, { path: '/wp-admin' })).body, 'root route');
});

test('fastify: without a logger option, Moat reports to Fastify\'s own (pino) logger', async () => {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (line: string) => { lines.push(JSON.parse(line)); } };
  const app = Fastify({ logger: { level: 'warn', stream } });
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  await app.register(moat, { rules: rules.path + '.missing' });
  app.get('/', async () => 'root');
  const port = await listenApp(app);
  assert.equal((await send(port)).body, 'root', 'a missing rules file fails open');
  const startup = lines.find((l) => String(l.msg).includes('could not load its rules'));
  assert.ok(startup, JSON.stringify(lines));
  assert.equal(startup.level, 50);
});

test('fastify: bad options (an unknown proxy preset) fail registration with a clear error', async () => {
  const app = Fastify();
  await assert.rejects(async () => {
    await app.register(moat, { trustedProxies: ['cloudfare'], logger: false });
    await app.ready();
  }, /trusted proxy "cloudfare"/);
  await app.close();
});

/** Listeners on a Node emitter, all events summed. */
function listeners(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

test('fastify: per request the plugin costs one synchronous hook call: no promise, no listener on the request or response', async () => {
  // An async hook costs a promise per request and a tick before routing; a 'finish' listener per
  // request (to learn the status) costs more than the decision. Both stay out of the plugin.
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false });
  after(() => firewall.close());
  const counted = async (guarded: boolean) => {
    const app = Fastify();
    const returned: unknown[] = [];
    if (guarded) {
      // The plugin joins this instance (skip-override): wrap addHook to see what its hook returns.
      const addHook = app.addHook.bind(app) as (name: string, hook: (...args: unknown[]) => unknown) => FastifyInstance;
      (app as unknown as { addHook: typeof addHook }).addHook = (name, hook) =>
        addHook(name, function (this: unknown, ...args: unknown[]) {
          const result = hook.apply(this, args);
          returned.push(result);
          return result;
        });
      await app.register(moat, { firewall });
    }
    const counts: number[] = [];
    app.get('/*', async (request, reply) => {
      counts.push(listeners(request.raw), listeners(reply.raw));
      return 'hello';
    });
    const port = await listenApp(app);
    assert.equal((await send(port, { path: '/hello' })).body, 'hello');
    assert.equal((await send(port, { path: '/wp-admin' })).status, guarded ? 403 : 200);
    return { counts, returned };
  };
  const bare = await counted(false);
  const guarded = await counted(true);
  assert.deepEqual(guarded.counts, bare.counts.slice(0, 2), 'the same listeners as without Moat');
  assert.deepEqual(guarded.returned, [undefined, undefined], 'a callback-style hook: nothing returned, no promise');
  assert.deepEqual([firewall.stats().passed, firewall.stats().blocked], [1, 1]);
});
