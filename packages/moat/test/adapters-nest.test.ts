// The NestJS adapter with real Nest 12 on a real socket, on both of its HTTP platforms: Express (the
// default) and Fastify. Decorators are applied as plain functions, so the test needs no decorator
// compiler settings; the app is what `@Controller() class … { @Post('login') @HttpCode(200) … }` builds.

import 'reflect-metadata';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { moatForNest, type NestApplicationLike } from '../src/adapters/nest.js';
import type { Firewall } from '../src/firewall/firewall.js';
import type { FirewallOrOptions } from '../src/adapters/firewall-from.js';
import { STANDARD_RULES, adapterConformance, rulesFile, send } from './adapters-helpers.js';

type Platform = 'express' | 'fastify';

/** The app's module; only the catch-all route differs (path-to-regexp 8 on Express, find-my-way on Fastify). */
function appModule(platform: Platform): new () => object {
  class AppController {
    login(): string { return 'ok'; }
    form(body: unknown): unknown { return body; }
    hello(): string { return 'hello'; }
  }
  const proto = AppController.prototype;
  const method = (name: keyof AppController) => Object.getOwnPropertyDescriptor(proto, name)!;
  Controller()(AppController);
  Post('login')(proto, 'login', method('login'));
  HttpCode(200)(proto, 'login', method('login')); // Nest answers POST with 201 by default
  Post('form')(proto, 'form', method('form'));
  HttpCode(200)(proto, 'form', method('form'));
  Body()(proto, 'form', 0);
  Get(platform === 'express' ? '{*path}' : '*')(proto, 'hello', method('hello'));

  class AppModule {}
  Module({ controllers: [AppController] })(AppModule);
  return AppModule;
}

async function startNest(platform: Platform, protect: (app: INestApplication) => void): Promise<number> {
  const app = platform === 'express'
    ? await NestFactory.create(appModule(platform), { logger: false })
    : await NestFactory.create(appModule(platform), new FastifyAdapter(), { logger: false });
  protect(app);
  after(() => app.close());
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as AddressInfo).port;
}

function startWith(platform: Platform) {
  return (firewall: Firewall) => startNest(platform, (app) => {
    assert.equal(moatForNest(app, firewall).platform, platform);
  });
}

// The shared set: blocked paths and evasions, 429 + Retry-After, forms intact at Nest's own body
// parser (Moat still reading them first), fail open / closed, client IP only via trusted proxies.
adapterConformance('nest (express platform)', startWith('express'));
adapterConformance('nest (fastify platform)', startWith('fastify'));

test('nest: options instead of a firewall; the firewall it made is returned', async () => {
  const rules = rulesFile({ block: { paths: ['/api/secret'], userAgents: ['evilbot'] } });
  after(() => rules.cleanup());
  let firewall: Firewall | undefined;
  const port = await startNest('express', (app) => {
    // A global prefix: rules still see the whole path the client sent.
    app.setGlobalPrefix('api');
    firewall = moatForNest(app, { rules: rules.path, logger: false } satisfies FirewallOrOptions).firewall;
  });
  after(() => firewall!.close());
  assert.equal((await send(port, { path: '/api/secret' })).status, 403);
  assert.equal((await send(port, { headers: { 'user-agent': 'EvilBot/2' }, path: '/api/x' })).status, 403);
  const ok = await send(port, { path: '/api/x' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'hello');
  assert.deepEqual([firewall!.stats().blocked, firewall!.stats().passed], [2, 1]);
});

test('nest: an unknown HTTP platform is refused at start-up, before any rules file is opened', () => {
  const rules = rulesFile(STANDARD_RULES);
  after(() => rules.cleanup());
  const app: NestApplicationLike = {
    use: () => undefined,
    getHttpAdapter: () => ({ getType: () => 'uwebsockets', getInstance: () => ({}) }),
  };
  assert.throws(() => moatForNest(app, { rules: rules.path, logger: false }), /unsupported Nest HTTP platform "uwebsockets"/);
});
