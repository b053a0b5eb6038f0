// Fastify: `await app.register(moat, { rules: 'rules.moat' })`. An `onRequest` hook, so Moat runs
// before routing work and body parsing. Like plugins wrapped in fastify-plugin, it is added to the
// context it is registered in: at the root it guards every route, inside an encapsulated plugin only
// that plugin's routes (siblings stay unguarded). Only Fastify's types are imported.

import type { FastifyPluginCallback, FastifyReply } from 'fastify';
import { Firewall } from '../firewall/firewall.js';
import type { BlockResponse, MoatOptions } from '../firewall/options.js';
import { firewallFrom } from './firewall-from.js';

export interface MoatFastifyOptions extends MoatOptions {
  /** Use this firewall (shared engine and counters) instead of creating one from the options. */
  firewall?: Firewall;
}

/** The plugin's options as Fastify passes them: Moat's, and `register`'s own. */
type FastifyRegistration = MoatFastifyOptions & { prefix?: unknown; logLevel?: unknown; logSerializers?: unknown };

function send(reply: FastifyReply, response: BlockResponse): void {
  reply.code(response.status);
  if (response.headers !== undefined) reply.headers(response.headers);
  reply.send(response.body ?? '');
}

const plugin: FastifyPluginCallback<MoatFastifyOptions> = (fastify, options, done) => {
  let firewall: Firewall;
  try {
    // Fastify hands its own registration options to the plugin too: they are not Moat's.
    const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...own } = options as FastifyRegistration;
    // Moat's events go to Fastify's own (pino) logger unless told otherwise.
    firewall = own.firewall !== undefined ? firewallFrom(own as { firewall: Firewall }) : firewallFrom({ ...own, logger: own.logger ?? fastify.log });
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.addHook('onRequest', (request, reply, next) => {
    const verdict = firewall.check(request.raw);
    if (verdict === null) {
      next();
    } else if (verdict instanceof Promise) {
      verdict.then((v) => (v === null ? next() : send(reply, v)));
    } else {
      // Answering from a callback-style hook: send, and do not call next.
      send(reply, verdict);
    }
  });
  done();
};

// What fastify-plugin does, without depending on it: no new encapsulation context, a readable name.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'moat',
});

export const moat = plugin;
export default plugin;
