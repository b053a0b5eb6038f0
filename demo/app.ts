// The demo shop: a plain node:http app protected by Moat in managed mode. Its rules come down from the
// hub, its decisions go up to it. It sits "behind" the traffic generator, which plays a proxy on
// loopback, so loopback is its one trusted proxy and X-Forwarded-For names the visitor.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createManagedFirewall, type ManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

export interface DemoAppOptions {
  hubUrl: string;
  apiKey: string;
  /** The hub's ed25519 public key: downloads are verified against it. */
  publicKey?: string;
  /** Where the synced rule files live. */
  dir: string;
  port?: number;
  /** Seconds between rule polls; the demo polls often so dashboard changes show within seconds. */
  rulesIntervalMs?: number;
}

export interface DemoApp {
  url: string;
  firewall: ManagedFirewall;
  server: Server;
  close(): Promise<void>;
}

const PAGE = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title} · Demo shop</title></head><body><h1>${title}</h1>${body}</body></html>`;

function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://demo.local');
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
  if (req.method === 'POST' && url.pathname === '/login') {
    // Read the body the way an app would: Moat may have peeked at it, the app still gets all of it.
    let bytes = 0;
    req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    req.on('end', () => send(401, 'application/json', JSON.stringify({ error: 'invalid credentials', read: bytes })));
    return;
  }
  if (url.pathname === '/' ) return send(200, 'text/html', PAGE('Welcome', '<p>Hats, shoes and more.</p>'));
  if (url.pathname.startsWith('/products')) return send(200, 'text/html', PAGE('Products', '<p>Red hat, blue shoes.</p>'));
  if (url.pathname.startsWith('/api/')) return send(200, 'application/json', JSON.stringify({ items: [1, 2, 3] }));
  if (url.pathname === '/search') return send(200, 'text/html', PAGE('Search', `<p>${url.searchParams.get('q')?.length ?? 0} characters searched</p>`));
  if (['/about', '/cart'].includes(url.pathname)) return send(200, 'text/html', PAGE(url.pathname.slice(1), ''));
  send(404, 'text/plain', 'Not found');
}

export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const firewall = createManagedFirewall({
    hubUrl: options.hubUrl,
    apiKey: options.apiKey,
    publicKey: options.publicKey,
    dir: options.dir,
    customRulesIntervalMs: options.rulesIntervalMs ?? 3_000,
    dataIntervalMs: 60_000,
    trustedProxies: ['loopback'],
    framework: 'node-http',
    upsync: { flushIntervalMs: 2_000 },
    logger: false,
  });
  const server = createServer(withMoat(handler, firewall));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    firewall,
    server,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await firewall.close();
    },
  };
}
