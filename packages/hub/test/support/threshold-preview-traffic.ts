/**
 * Stored traffic for threshold-preview tests (a seeded generator: floods of blocked requests, login
 * bursts, IPv6 clients sharing /64s, an allow-listed subnet) and a brute-force replay of a threshold
 * rule over the reports read back from the store: its own per-key event lists (12 buckets per window,
 * counts reset at a crossing), its own ban bookkeeping, no hub code, to check the preview's numbers against.
 */
import { strict as assert } from 'node:assert';
import type { ReportRecord, StoredReport, Treatment } from '../../src/store/store.js';
import type { Client } from './hub-fixture.js';

/** The allow-listed subnet the generator sends floods from too (never banned). */
export const ALLOWED_PREFIX = '10.9.9.';

/** The hashed API keys some clients report (header:x-api-key). */
const API_KEY_HASHES = ['3f2a9c01', '77aa0b12', 'c0ffee00'].map((h) => h.padEnd(32, '0'));

export function thresholdTraffic(nowSeconds: number, count: number): ReportRecord[] {
  let seed = 0x1b873593;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const records: ReportRecord[] = [];
  const start = nowSeconds - 82_800;
  for (let i = 0; i < count; i++) {
    // Bursts: ten reports share a few seconds, so short windows fill up.
    const ts = start + Math.floor(i / 10) * Math.floor(80_000 / (count / 10)) + next(4);
    const kind = next(10);
    let ip: string;
    let method = 'GET';
    let path = ['/', '/api/items', '/static/app.js'][next(3)]!;
    let treatment: Treatment = next(6) === 0 ? 'Blocked' : 'Passed';
    let apiKey: string | undefined;
    if (kind < 3) {
      // A scanner: few addresses, mostly blocked.
      ip = `198.51.100.${next(6)}`;
      path = ['/wp-admin/setup.php', '/.env', '/LOGIN'][next(3)]!;
      treatment = next(5) === 0 ? 'Passed' : 'Blocked';
    } else if (kind < 5) {
      ip = `203.0.113.${next(12)}`;
      method = next(4) === 0 ? 'GET' : 'POST';
      path = next(3) === 0 ? '/login?next=/' : '/Login';
      // Two in three carry an API key (its hash, as Moat clients report it), shared across addresses.
      if (next(3) !== 0) apiKey = API_KEY_HASHES[next(API_KEY_HASHES.length)]!;
    } else if (kind < 7) {
      // IPv6 clients, several addresses in each of a few /64s.
      ip = `2001:db8:0:${next(4)}::${(next(20) + 1).toString(16)}`;
    } else if (kind === 7) {
      ip = `${ALLOWED_PREFIX}${next(3) + 1}`;
      treatment = 'Blocked';
      path = '/.env';
    } else {
      ip = `10.0.${next(3)}.${next(60)}`;
    }
    // The response status, from the index (not the seeded stream, which the other cases' traffic depends on):
    // logins mostly fail (401); every eleventh report has none, as from a Wafris client.
    const login = kind >= 3 && kind < 5;
    const status = i % 11 === 0 ? null : login ? (i % 4 === 0 ? 200 : 401) : treatment === 'Blocked' ? 403 : 200;
    records.push({
      ts, ip, method, host: 'shop.example.test', path, parameter: '', userAgent: `agent-${next(3)}`, requestId: `t${i}`,
      treatment, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: sourceOf(i), country: null, status,
      ...(apiKey ? { keys: [{ kind: 'header:x-api-key', hash: apiKey }] } : {}),
    });
  }
  return records.sort((a, b) => a.ts - b.ts);
}

/**
 * Where the client read the address, from the index (not the seeded stream): most from the socket or a
 * trusted proxy's header; one in 29 unsaid, as from the Wafris gem (counted only by `clients: 'all'`);
 * one in 31 a trusted proxy's own address (never a ban by address).
 */
function sourceOf(i: number): string | null {
  return i % 29 === 3 ? null : i % 31 === 5 ? 'proxy' : i % 2 === 0 ? 'socket' : 'x-forwarded-for';
}

export interface DraftRule {
  name: string;
  condition: { requests: 'blocked' | 'any'; method: string | null; path: string | null; pathMatch: 'exact' | 'prefix'; status: number | null; clients?: 'moat' | 'all' };
  windowSeconds: number;
  threshold: number;
  key: 'ip' | 'ip64' | 'header:x-api-key';
  banSeconds: number;
  mode: 'monitor' | 'enforce';
  maxBansPerMinute: number;
}

export interface BruteBacktest {
  requests: number;
  matched: number;
  crossings: number;
  bans: number;
  bannedKeys: number;
  refused: { allowListed: number; cap: number; rate: number };
  blockedAfterBan: number | null;
  newlyBlocked: number | null;
  /** Per banned key: first ban time and bans. */
  perKey: Map<string, { firstBanAt: number; bans: number }>;
}

/** The report's hash of a keyed rule's key, as a ban key (`header:x-api-key=<hash>`); undefined without one. */
function reportedKeyOf(r: StoredReport, kind: DraftRule['key']): string | undefined {
  const hash = r.keys?.find((k) => k.kind === kind)?.hash;
  return hash === undefined ? undefined : `${kind}=${hash}`;
}

/** A client's key for the rule, written as the hub writes ban keys (the test's addresses are all canonical). */
function keyOf(r: StoredReport, kind: DraftRule['key']): string | undefined {
  // A trusted proxy's own address is no client's: counted by a reported key only.
  if (r.ipSource === 'proxy') return kind.startsWith('header:') ? reportedKeyOf(r, kind) : undefined;
  return addressKeyOf(r, kind);
}

/** The key of the report's address (or reported key) for the rule, whoever's address it is. */
function addressKeyOf(r: StoredReport, kind: DraftRule['key']): string {
  const ip = r.ip;
  // A keyed rule counts a report without the key by its IP.
  if (kind.startsWith('header:')) return reportedKeyOf(r, kind) ?? ip;
  if (kind === 'ip' || !ip.includes(':')) return ip;
  // The generator's IPv6 addresses are 2001:db8:0:<n>::<host>: their /64 is the first four groups.
  return `${ip.split(':').slice(0, 4).join(':')}::/64`;
}

function matches(rule: DraftRule, r: StoredReport, treatment: Treatment): boolean {
  const c = rule.condition;
  if (c.requests === 'blocked' && treatment !== 'Blocked') return false;
  if (c.method !== null && r.method.toUpperCase() !== c.method) return false;
  if (c.path !== null) {
    const path = r.path.split('?')[0]!.toLowerCase();
    if (path !== c.path && !(c.pathMatch === 'prefix' && path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))) return false;
  }
  // As at ingest: a report without a status never matches a status condition.
  return c.status === null || r.status === c.status;
}

/** The draft replayed over `reports` (oldest first) by plain lists: the numbers the preview must give. */
export function bruteBacktest(rule: DraftRule, reports: readonly StoredReport[], allowed: (ip: string) => boolean): BruteBacktest {
  const width = rule.windowSeconds / 12;
  const events = new Map<string, { head: number; list: { bucket: number; weight: number }[] }>();
  const standing = new Map<string, number>();
  const perMinute = new Map<number, number>();
  const perKey = new Map<string, { firstBanAt: number; bans: number }>();
  const out: BruteBacktest = {
    requests: 0, matched: 0, crossings: 0, bans: 0, bannedKeys: 0, refused: { allowListed: 0, cap: 0, rate: 0 },
    blockedAfterBan: rule.mode === 'enforce' ? 0 : null, newlyBlocked: rule.mode === 'enforce' ? 0 : null, perKey,
  };
  for (const r of reports) {
    out.requests += 1;
    let treatment = r.treatment;
    if (rule.mode === 'enforce') {
      // A ban blocks by the clients' rules, which a proxy's own address meets like any other (only allow rules skip it).
      const banned = [r.ip, addressKeyOf(r, rule.key), reportedKeyOf(r, rule.key) ?? ''].some((k) => (standing.get(k) ?? -Infinity) > r.ts);
      if (banned) {
        out.blockedAfterBan! += 1;
        if (treatment !== 'Blocked') out.newlyBlocked! += 1;
        treatment = 'Blocked';
      }
    }
    // A report that did not say where its address came from (the gem) counts only for `clients: 'all'`.
    if (r.ipSource === null && rule.condition.clients !== 'all') continue;
    if (!matches(rule, r, treatment)) continue;
    out.matched += 1;
    const key = keyOf(r, rule.key);
    if (key === undefined) continue;
    const bucket = Math.floor(r.ts / width);
    let entry = events.get(key);
    if (!entry) events.set(key, (entry = { head: bucket, list: [] }));
    if (bucket > entry.head) entry.head = bucket;
    else if (bucket <= entry.head - 12) continue;
    entry.list.push({ bucket, weight: 1 });
    const count = entry.list.filter((e) => e.bucket > entry.head - 12).reduce((a, e) => a + e.weight, 0);
    if (count < rule.threshold) continue;
    entry.list = [];
    out.crossings += 1;
    if ((standing.get(key) ?? -Infinity) > r.ts) continue;
    if (allowed(key)) {
      out.refused.allowListed += 1;
      continue;
    }
    const minute = Math.floor(r.ts / 60);
    if ((perMinute.get(minute) ?? 0) >= rule.maxBansPerMinute) {
      out.refused.rate += 1;
      continue;
    }
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    standing.set(key, r.ts + rule.banSeconds);
    out.bans += 1;
    const seen = perKey.get(key);
    if (seen) seen.bans += 1;
    else perKey.set(key, { firstBanAt: r.ts, bans: 1 });
  }
  out.bannedKeys = perKey.size;
  return out;
}

export interface ThresholdPreviewJob {
  id: string;
  state: string;
  scanned: number;
  progress: number;
  /** Workers that scanned: 2 when split by key. */
  parts: number;
  error?: string;
  result?: {
    requests: number; matched: number; crossings: number; bans: number; bannedKeys: number;
    refused: { allowListed: number; cap: number; rate: number };
    blockedAfterBan: number | null; newlyBlocked: number | null;
    topKeys: { key: string; firstBanAt: number; bans: number; blocked: number | null }[];
    examples: { ts: number; ip: string; path: string; key: string }[];
    keysStored: boolean; counterEvictions: number;
  };
}

/** Starts a threshold preview over the API and waits for its result. */
export async function runThresholdPreview(client: Client, siteId: number, rule: unknown, range = '24h'): Promise<ThresholdPreviewJob> {
  const started = await client.api('POST', `/api/sites/${siteId}/thresholds/preview`, { rule, range });
  assert.equal(started.status, 202, await started.clone().text());
  let job = ((await started.json()) as { job: ThresholdPreviewJob }).job;
  for (let i = 0; i < 2400 && job.state === 'running'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const polled = await client.api('GET', `/api/sites/${siteId}/thresholds/preview/${job.id}`);
    assert.equal(polled.status, 200);
    job = ((await polled.json()) as { job: ThresholdPreviewJob }).job;
  }
  return job;
}
