// NestJS: `moatForNest(app, { rules: 'rules.moat' })` right after NestFactory.create(), before listen().
// On the default Express platform it is `app.use()` of the Express middleware: added before Nest's own
// body parser and routes (Nest adds those in init()), so Moat reads forms the app still receives whole.
// On the Fastify platform it is Moat's Fastify plugin at the root (an `onRequest` hook, before parsing).
// Nest is not imported, not even its types: apps without Nest do not need it to use or compile Moat.

import type { Firewall } from '../firewall/firewall.js';
import { moat as expressMoat } from './express.js';
import { moat as fastifyMoat, type MoatFastifyOptions } from './fastify.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';
import { OptionError } from '../errors/moat-error.js';

/** The part of a Nest application (INestApplication) Moat uses. */
export interface NestApplicationLike {
  use(...args: never[]): unknown;
  getHttpAdapter(): { getType(): string; getInstance(): unknown };
}

/** The part of a Fastify instance Moat uses on Nest's Fastify platform. */
interface FastifyRegister {
  register(plugin: typeof fastifyMoat, options: MoatFastifyOptions): unknown;
}

export type NestPlatform = 'express' | 'fastify';

export interface NestProtection {
  readonly firewall: Firewall;
  readonly platform: NestPlatform;
}

/**
 * Guards every request of a Nest application. Call it before `app.listen()` / `app.init()`.
 * Returns the firewall (for stats, or to close the engine it opened when the app shuts down).
 */
export function moatForNest(app: NestApplicationLike, options?: FirewallOrOptions): NestProtection {
  const adapter = app.getHttpAdapter();
  const type = adapter.getType();
  // Another platform: refuse loudly at start-up rather than run unprotected (and before opening rules).
  if (type !== 'express' && type !== 'fastify') {
    throw new OptionError(`moatForNest: unsupported Nest HTTP platform "${type}" (supported: express, fastify)`);
  }
  const firewall = firewallFrom(options);
  if (type === 'express') {
    // Nest's `app.use` hands the function straight to Express; the middleware judges req.originalUrl.
    (app.use as (handler: unknown) => unknown)(expressMoat(firewall));
    return { firewall, platform: 'express' };
  }
  // Fastify: the plugin at the root adds its onRequest hook to every route (it skips encapsulation).
  (adapter.getInstance() as FastifyRegister).register(fastifyMoat, { firewall });
  return { firewall, platform: 'fastify' };
}
