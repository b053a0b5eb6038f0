// An app server on 127.0.0.1 behind a firewall, as the sync and reporting tests drive it: GET by path
// (the answer's status), and a stop that closes the server, the firewall and its folder.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedApp {
  port: number;
  get(path: string, headers?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export async function serveApp(server: Server, firewall: { close(): void | Promise<void> }, cleanup: () => void, userAgent?: string): Promise<ServedApp> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    get: async (path, headers = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: userAgent === undefined ? headers : { 'user-agent': userAgent, ...headers } });
      await res.arrayBuffer();
      return res.status;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await firewall.close();
      cleanup();
    },
  };
}
