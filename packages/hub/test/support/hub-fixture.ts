import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Hub } from '../../src/index.js';
import type { HubOptions } from '../../src/config.js';

export const ADMIN_EMAIL = 'admin@example.test';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestHub extends Hub {
  dataDir: string;
  stop(): Promise<void>;
}

/** A real hub on 127.0.0.1 (free port) over a fresh temporary data dir, removed on stop(). */
export async function startTestHub(options: Partial<HubOptions> & { databaseUrl?: undefined } = {}): Promise<TestHub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-test-'));
  const hub = await createHub({
    dataDir, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
    rollupIntervalMs: 60_000, print: () => undefined, ...options,
  });
  return Object.assign(hub, {
    dataDir,
    stop: async () => {
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** A browser-like HTTP client: keeps cookies, never follows redirects by itself. */
export class Client {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit & { json?: unknown; form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    } else if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    if (this.cookies.size > 0 && !headers.has('cookie')) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const response = await this.send(path, { ...init, headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /**
   * As a browser does, a request that cannot change anything is sent again once when a kept-alive
   * connection turns out closed before any answer: after a hub restart on the same port, the pool may
   * still hold a connection to the old hub whose close it has not read yet.
   */
  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.base + path, init);
    } catch (error) {
      const method = (init.method ?? 'GET').toUpperCase();
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if ((method !== 'GET' && method !== 'HEAD') || code !== 'UND_ERR_SOCKET') throw error;
      return fetch(this.base + path, init);
    }
  }

  /** Signs in through the login form (CSRF cookie + field) and loads the session's CSRF token. */
  async login(email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<Response> {
    const page = await (await this.request('/login')).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const response = await this.request('/login', { method: 'POST', form: { email, password, _csrf: token, next: '/' } });
    if (response.status === 303) {
      const me = await this.request('/api/me');
      if (me.status === 200) this.csrf = ((await me.json()) as { csrfToken: string }).csrfToken;
    }
    return response;
  }

  /** JSON API call with the CSRF header. */
  api(method: string, path: string, json?: unknown): Promise<Response> {
    return this.request(path, { method, json, headers: { 'x-csrf-token': this.csrf } });
  }
}

/** Creates a site and an API key through the API; returns both. */
export async function createSiteWithKey(client: Client, name = 'test site'): Promise<{ siteId: number; apiKey: string; keyId: number }> {
  const site = await client.api('POST', '/api/sites', { name });
  if (site.status !== 201) throw new Error(`site: ${site.status} ${await site.text()}`);
  const siteId = ((await site.json()) as { site: { id: number } }).site.id;
  const key = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'test' });
  if (key.status !== 201) throw new Error(`key: ${key.status} ${await key.text()}`);
  const body = (await key.json()) as { key: string; info: { id: number } };
  return { siteId, apiKey: body.key, keyId: body.info.id };
}

export function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ip: '203.0.113.9', user_agent: 'curl/8', path: '/', parameter: '', host: 'example.test', method: 'GET',
    request_id: 'r1', timestamp: Math.floor(Date.now() / 1000), treatment: 'Passed', category: 'passed', rule: '-',
    ...overrides,
  };
}

export function upsyncBody(batch: Record<string, unknown>[]): Record<string, unknown> {
  return { meta: { version: '0.1.0', client: 'moat', framework: 'test' }, batch };
}

/** The usual start of a hub test: a test hub, the admin signed in, and one site with an API key. */
export async function startHubWithSite(
  siteName = 'test site', options: Parameters<typeof startTestHub>[0] = {},
): Promise<{ hub: TestHub; client: Client; siteId: number; apiKey: string; keyId: number }> {
  const hub = await startTestHub(options);
  const client = new Client(hub.url);
  await client.login();
  return { hub, client, ...(await createSiteWithKey(client, siteName)) };
}
