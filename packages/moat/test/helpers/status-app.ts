// A small app on node:http, Express, Fastify or node:http2's core API behind a managed firewall, answering each path with a
// known status (401 on /login, 404 on /missing, 200 elsewhere) and never answering /hang, for the
// tests of response statuses in reports.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { moat as fastifyMoat } from '../../src/adapters/fastify.js';
import { withMoat, withMoatStream } from '../../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';
import { tempDir, type FakeHub } from './fake-hub.js';

/** The app every framework serves: 401 on /login, 404 on /missing, 200 elsewhere; /hang never answers. */
function answer(path: string): number {
  return path === '/login' ? 401 : path === '/missing' ? 404 : 200;
}

export interface StatusApp {
  fw: ManagedFirewall;
  url: string;
  /** Requests /hang has received (their responses never end). */
  hanging: ServerResponse[];
  stop(): Promise<void>;
}

export async function startStatusApp(framework: 'node:http' | 'express' | 'fastify' | 'fastify-http2' | 'http2-core', hub: FakeHub,
  upsync: ManagedFirewallOptions['upsync']): Promise<StatusApp> {
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, longPollSeconds: 0,
    backoffBaseMs: 10, backoffMaxMs: 40, logger: false, env: {}, trustedProxies: [], upsync,
  });
  await fw.ready();
  const hanging: ServerResponse[] = [];
  let server: Server;
  let closeApp = async () => {};
  if (framework === 'http2-core') {
    // Cleartext HTTP/2 on the core API: streams answered with stream.respond().
    const h2 = createHttp2Server();
    h2.on('stream', withMoatStream((stream, headers) => {
      stream.respond({ ':status': answer(String(headers[':path'])) });
      stream.end('x');
    }, fw));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    server = h2 as unknown as Server;
    closeApp = () => new Promise<void>((resolve) => { (h2 as Http2Server).close(() => resolve()); });
  } else if (framework === 'fastify-http2') {
    // Cleartext HTTP/2: Node's compatibility API, whose responses no diagnostics channel announces.
    const app = Fastify({ http2: true });
    await app.register(fastifyMoat, { firewall: fw });
    app.get('/*', async (request, reply) => reply.code(answer(request.url)).send('x'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server as unknown as Server;
    closeApp = async () => { await app.close(); };
  } else if (framework === 'fastify') {
    const app = Fastify();
    await app.register(fastifyMoat, { firewall: fw });
    app.get('/*', async (request, reply) => {
      if (request.url === '/hang') {
        hanging.push(reply.raw);
        return new Promise(() => {});
      }
      return reply.code(answer(request.url)).send('x');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
    closeApp = async () => { await app.close(); };
  } else {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/hang') {
        hanging.push(res);
        return;
      }
      res.statusCode = answer(req.url ?? '/');
      res.end('x');
    };
    if (framework === 'express') {
      const app = express();
      app.use(expressMoat(fw));
      app.use((req, res) => handler(req, res));
      server = createServer(app);
    } else {
      server = createServer(withMoat(handler, fw));
    }
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  return {
    fw, hanging, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      // node:http's servers only (an HTTP/2 server's sessions close with app.close()).
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closeApp();
      server.close();
      await fw.close();
      cleanup();
    },
  };
}

