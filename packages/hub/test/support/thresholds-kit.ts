// Helpers of the auto-ban tests: threshold rules through the JSON API, reports through real upsync
// requests, and what the compiled Wafris rules file blocks.
import Database from 'better-sqlite3';
import type { Client } from './hub-fixture.js';
import { record, upsyncBody } from './hub-fixture.js';
import type { Hub } from '../../src/index.js';
import type { HubStore } from '../../src/store/store.js';
import type { Ban, ThresholdRule } from '../../src/thresholds/threshold-types.js';

export function thresholdInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'scanner', condition: { requests: 'blocked' }, windowSeconds: 300, threshold: 5, key: 'ip', banSeconds: 3600,
    mode: 'enforce', maxBansPerMinute: 60, ...overrides,
  };
}

export async function createThreshold(client: Client, siteId: number, overrides: Record<string, unknown> = {}): Promise<ThresholdRule> {
  const response = await client.api('POST', `/api/sites/${siteId}/thresholds`, thresholdInput(overrides));
  if (response.status !== 201) throw new Error(`threshold: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { rule: ThresholdRule }).rule;
}

export async function listBans(client: Client, siteId: number, mode: 'enforce' | 'monitor' = 'enforce'): Promise<Ban[]> {
  const response = await client.api('GET', `/api/sites/${siteId}/bans?mode=${mode}`);
  if (response.status !== 200) throw new Error(`bans: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { bans: Ban[] }).bans;
}

/**
 * Posts `count` reports of `ip` (blocked by a path rule unless overridden) as one Wafris-form upsync batch,
 * as a Moat client sends it (`ip_source` says where it read the address; `ip_source: null` makes them the
 * gem's, which threshold rules count only with `condition.clients: 'all'`).
 */
export async function report(hubUrl: string, apiKey: string, ip: string, count: number, overrides: Record<string, unknown> = {}): Promise<Response> {
  const now = Math.floor(Date.now() / 1000);
  const batch = Array.from({ length: count }, (_, i) => record({
    ip, path: '/wp-admin', treatment: 'Blocked', category: 'bp', rule: '/wp-admin', request_id: `${ip}-${i}-${Math.random()}`,
    timestamp: now, ip_source: 'socket', ...overrides,
  }));
  return fetch(`${hubUrl}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
}

/** What the site's current Wafris rules file blocks by exact IP and by range (range rows as stored). */
export async function wafrisBlocks(hub: Hub<HubStore>, siteId: number): Promise<{ ips: string[]; ranges: number; file: string }> {
  const build = await hub.context.builder.current(siteId, 'wafris');
  const db = new Database(build.path, { readonly: true });
  try {
    const ips = db.prepare<[], string>('SELECT entries FROM blocked_ips').pluck().all();
    const ranges = db.prepare<[], number>('SELECT count(*) FROM blocked_cidr_ranges').pluck().get() ?? 0;
    return { ips, ranges, file: build.fileName };
  } finally {
    db.close();
  }
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
