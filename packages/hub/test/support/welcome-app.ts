// An app in this process behind a managed Moat client of a test hub, polling fast: a node:http server
// answering "welcome" to whatever Moat lets through (trusting 127.0.0.1's X-Forwarded-For, so a test
// names the client address). For tests that read the client's decisions from outside, over HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManagedFirewall, type ManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

export interface WelcomeApp {
  port: number;
  firewall: ManagedFirewall;
  /** Closes the server, the firewall and its folder. */
  stop(): Promise<void>;
}

export async function startWelcomeApp(hubUrl: string, apiKey: string, options: { dataIntervalMs?: number } = {}): Promise<WelcomeApp> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-welcome-client-'));
  const firewall = createManagedFirewall({
    apiKey, hubUrl, dir, env: {}, logger: false, trustedProxies: ['127.0.0.1'],
    customRulesIntervalMs: 100, dataIntervalMs: options.dataIntervalMs ?? 100, jitter: 0, watchIntervalMs: 5, longPollSeconds: 0,
    upsync: { flushIntervalMs: 100, batchSize: 50 },
  });
  const app = createServer(withMoat((_req, res) => { res.end('welcome'); }, firewall));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  return {
    port: (app.address() as { port: number }).port,
    firewall,
    stop: async () => {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
      await firewall.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
