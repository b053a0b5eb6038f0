// A firewall from a rules document and a fetch handler served by @hono/node-server on 127.0.0.1, both
// closed after the test: the set-up of the tests that judge Web front doors on Node's own server.
import type { Server } from 'node:http';
import { after } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import { createFirewall, type Firewall } from '../../src/firewall/firewall.js';
import { close, listen, rulesFile } from '../adapters-helpers.js';

export function guardedFirewall(document: object): Firewall {
  const rules = rulesFile(document);
  after(() => rules.cleanup());
  const firewall = createFirewall({ rules: rules.path, logger: false, trustedProxies: [] });
  after(() => firewall.close());
  return firewall;
}

/** Serves `fetch` through @hono/node-server's Request wrapper; resolves to the port. */
export async function serveFetchOnNode(fetch: (request: Request, env: unknown) => Response | Promise<Response>): Promise<number> {
  const server = createAdaptorServer({ fetch }) as Server;
  const port = await listen(server);
  after(() => close(server));
  return port;
}
