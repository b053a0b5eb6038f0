// A misspelt option name used to leave a firewall without rules that judged nothing and said nothing
// (`{ rule: 'rules.moat' }`, or `moat({ firewall })` on Express, which made a second, empty firewall).
// Now every options object is checked against the names its type has, and the adapters take a shared
// firewall as `{ firewall }` as Fastify's plugin does. Real rules files, real servers on 127.0.0.1.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../src/adapters/express.js';
import { moat as fastifyMoat } from '../src/adapters/fastify.js';
import { withMoat } from '../src/adapters/node.js';
import { MoatError, OptionError } from '../src/errors/moat-error.js';
import { createFirewall, NOTHING_TO_JUDGE, type Firewall } from '../src/firewall/firewall.js';
import type { MoatLogger } from '../src/firewall/logger.js';
import { Engine } from '../src/engine/engine.js';
import { FIREWALL_OPTION_NAMES } from '../src/firewall/option-names.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { close, listen, rulesFile, send } from './adapters-helpers.js';

const rules = rulesFile({ block: { paths: ['/admin'] } });
after(() => rules.cleanup());

/** Asserts `fn` throws an OptionError whose message contains every one of `parts`. */
function throwsOption(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OptionError, `expected an OptionError, got ${String(error)}`);
    assert.ok(error instanceof MoatError);
    assert.equal(error.code, 'MOAT_ERR_OPTION_INVALID');
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" should name ${part}`);
    return true;
  });
}

/** The status a firewall answers a bodiless GET of `path` with (null: it goes on to the app). */
function statusOf(firewall: Firewall, path: string): number | null {
  const verdict = firewall.check({ method: 'GET', url: path, headers: {}, socket: { remoteAddress: '198.51.100.1' } } as never);
  assert.ok(!(verdict instanceof Promise), 'a GET without a body is judged synchronously');
  return verdict === null ? null : verdict.status;
}

test('a misspelt option is an OptionError naming it and the option meant, not a firewall that judges nothing', () => {
  // From a JSON configuration file, where no compiler looks at the names.
  const config = JSON.parse(`{ "rule": ${JSON.stringify(rules.path)}, "logger": false }`) as object;
  throwsOption(() => createFirewall(config), "'rule'", "did you mean 'rules'");
  throwsOption(() => createFirewall({ Rules: rules.path, logger: false } as object), "'Rules'", "'rules'");
  throwsOption(() => createFirewall({ rules: rules.path, trustedProxy: ['loopback'], logger: false } as object), "'trustedProxy'", "'trustedProxies'");
  throwsOption(() => createFirewall({ rules: rules.path, failclosed: true, logger: false } as object), "'failclosed'", "'failClosed'");
  // Two at once are both named; a name far from every option gets no guess.
  throwsOption(() => createFirewall({ rulez: rules.path, colour: 'blue' } as object), "'rulez'", "'colour'", 'unknown options');
  assert.throws(() => createFirewall({ colour: 'blue' } as object), (error: Error) => !error.message.includes('did you mean'));
  // A shared firewall handed to createFirewall says where it goes instead.
  const shared = createFirewall({ rules: rules.path, logger: false });
  throwsOption(() => createFirewall({ firewall: shared } as object), "'firewall'", 'moat(firewall)');
});

test('every option name the type has is accepted, and a name set to undefined (a spread config) is let through', () => {
  const all = Object.fromEntries(FIREWALL_OPTION_NAMES.map((name) => [name, undefined]));
  const firewall = createFirewall({ ...all, rules: rules.path, logger: false });
  assert.equal(statusOf(firewall, '/admin'), 403);
  assert.doesNotThrow(() => createFirewall({ rules: rules.path, logger: false, ...{ unusedField: undefined } } as object));
});

test('managed mode checks its own option names: hub, sync and upsync options pass, a misspelt one is named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moat-option-names-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  throwsOption(() => createManagedFirewall({ hubURL: 'http://127.0.0.1:9', apiKey: 'k', dir, logger: false } as object),
    "'hubURL'", "did you mean 'hubUrl'", 'createManagedFirewall');
  throwsOption(() => createManagedFirewall({ rules: rules.path, dir, logger: false, apikey: 'k' } as object), "'apikey'", "'apiKey'");
  // `engine` is a Firewall option a managed firewall makes itself.
  throwsOption(() => createManagedFirewall({ rules: rules.path, dir, logger: false, engine: { evaluate: () => null } } as object), "'engine'");
  // A full, valid managed configuration: the firewall starts and judges with the shipped rules file.
  const managed = createManagedFirewall({
    rules: rules.path, dir, logger: false, trustedProxies: ['loopback'], failClosed: false, logIntervalMs: 1000,
    customRulesIntervalMs: 3_600_000, dataIntervalMs: 3_600_000, readyTimeoutMs: 100, onSyncError: () => {},
    upsync: false, framework: 'test', hostname: 'here',
  });
  try {
    assert.equal(statusOf(managed, '/admin'), 403);
  } finally {
    await managed.close();
  }
});

test('express and node:http take a shared firewall as { firewall }: one engine, one set of counters', async () => {
  const shared = createFirewall({ rules: rules.path, logger: false });
  const app = express();
  app.use(expressMoat({ firewall: shared }));
  app.use((_req, res) => { res.send('hello'); });
  const viaExpress = createServer(app);
  const viaNode = createServer(withMoat((_req, res) => { res.end('hello'); }, { firewall: shared }));
  const ports = [await listen(viaExpress), await listen(viaNode)];
  try {
    for (const port of ports) {
      assert.equal((await send(port, { path: '/admin' })).status, 403);
      assert.equal((await send(port, { path: '/' })).status, 200);
    }
    assert.equal(shared.stats().blocked, 2, 'both servers judged with the shared firewall');
    assert.equal(shared.stats().requests, 4);
  } finally {
    await Promise.all([close(viaExpress), close(viaNode)]);
  }
  // Options beside a shared firewall would be ignored: said at once instead.
  throwsOption(() => expressMoat({ firewall: shared, failClosed: true } as never), "'failClosed'", 'beside `firewall`');
  throwsOption(() => expressMoat({ firewall: {} } as never), '`firewall` must be a Moat firewall');
  throwsOption(() => expressMoat({ rulez: rules.path } as object), "'rulez'", "'rules'");
});

test('fastify: register()\'s own options are not taken for Moat\'s, a misspelt Moat option fails the registration', async () => {
  const app = Fastify();
  // `prefix` belongs to Fastify; Moat guards the routes of the context it is registered in.
  await app.register(async (scope) => {
    await scope.register(fastifyMoat, { rules: rules.path, logger: false, prefix: '/ignored-by-moat' } as never);
    scope.get('/admin', async () => 'admin');
    scope.get('/', async () => 'hello');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  try {
    assert.equal((await send(port, { path: '/admin' })).status, 403);
    assert.equal((await send(port, { path: '/' })).status, 200);
  } finally {
    await app.close();
  }
  const broken = Fastify();
  await assert.rejects(async () => {
    await broken.register(fastifyMoat, { rule: rules.path, logger: false } as never);
    await broken.ready();
  }, (error: unknown) => error instanceof OptionError && error.message.includes("did you mean 'rules'"));
  await broken.close();
});

test('a firewall given nothing to judge with says so once at start; one given rules, data or an engine does not', () => {
  const warnings: string[] = [];
  const logger: MoatLogger = { error: () => {}, warn: (_o, message) => { warnings.push(message ?? ''); } };
  // `moat()` with the rules option forgotten, or with its value unset in the environment.
  const empty = createFirewall({ logger, rules: process.env.MOAT_TEST_UNSET_RULES_PATH });
  assert.deepEqual(warnings, [NOTHING_TO_JUDGE]);
  assert.equal(statusOf(empty, '/admin'), null, 'and it does let every request through, as it says');
  warnings.length = 0;
  createFirewall({ logger, rules: rules.path });
  createFirewall({ logger, engine: Engine.open({ rules: rules.path }) });
  assert.deepEqual(warnings, []);
});
