/**
 * Stored traffic for rule-preview tests: deterministic reports (a seeded generator) over the last day and
 * some older, and brute-force counts over the reports read back from the store, computed without the
 * engine, to check the preview's numbers against.
 */
import { strict as assert } from 'node:assert';
import type { HubStore, ReportRecord, StoredReport, Treatment } from '../../src/store/store.js';
import type { Client } from './hub-fixture.js';

const PATHS = ['/', '/login', '/wp-admin/setup.php', '/api/items', '/WP-Admin/', '/static/app.js'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'sqlmap/1.7.2#stable', 'Googlebot/2.1'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'DELETE'];
const HOSTS = ['shop.example.test', 'shop.example.test', 'admin.example.test'];
const PARAMS = ['', '', '?id=7', '?q=1 UNION SELECT password', '?page=2'];
const TREATMENTS: Treatment[] = ['Passed', 'Passed', 'Passed', 'Allowed', 'Blocked'];

/** `count` reports within the last 23 hours, plus `old` reports two days back (outside a 24 h preview). */
export function previewTraffic(nowSeconds: number, count: number, old = 50): ReportRecord[] {
  let seed = 0x2545f491;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const records: ReportRecord[] = [];
  for (let i = 0; i < count + old; i++) {
    const recent = i < count;
    // Bursts: several reports share a second, as a flood does, so rate limits have something to refuse.
    const ts = recent ? nowSeconds - 82_800 + Math.floor((i / count) * 82_000) + next(3) : nowSeconds - 2 * 86_400 + i;
    // One client in ten is a login flood from a single address.
    const flood = i % 10 === 0;
    const ip = flood ? '198.51.100.9' : next(4) === 0 ? `203.0.113.${next(8)}` : `10.0.0.${next(40)}`;
    records.push({
      ts, ip, method: METHODS[next(METHODS.length)]!, host: HOSTS[next(HOSTS.length)]!, path: flood ? '/login' : PATHS[next(PATHS.length)]!,
      parameter: PARAMS[next(PARAMS.length)]!, userAgent: AGENTS[next(AGENTS.length)]!, requestId: `r${i}`,
      treatment: TREATMENTS[next(TREATMENTS.length)]!, category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null, country: null,
    });
  }
  // Stored in time order, as ingestion appends them.
  return records.sort((a, b) => a.ts - b.ts);
}

/** Every stored report of a site in [from, to), through the store's own request log, oldest first. */
export async function storedReports(store: HubStore, siteId: number, from: number, to: number): Promise<StoredReport[]> {
  const rows: StoredReport[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await store.queryReports(siteId, { from, to }, { limit: 1000, before });
    rows.push(...page.rows);
    if (!page.next) break;
    before = page.next;
  }
  return rows.sort((a, b) => a.ts - b.ts || a.id - b.id);
}

export interface BruteCount {
  requests: number;
  distinctIps: number;
  /** Of the matched, recorded as Passed or Allowed. */
  passedOrAllowed: number;
  topIp: { value: string; count: number } | undefined;
}

export function bruteCount(matched: readonly StoredReport[]): BruteCount {
  const perIp = new Map<string, number>();
  for (const r of matched) perIp.set(r.ip, (perIp.get(r.ip) ?? 0) + 1);
  const top = [...perIp].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  return {
    requests: matched.length, distinctIps: perIp.size,
    passedOrAllowed: matched.filter((r) => r.treatment !== 'Blocked').length,
    topIp: top ? { value: top[0], count: top[1] } : undefined,
  };
}

/** Requests a sliding-window limit refuses, per IP: a request is refused when `limit` counted ones lie in the window before it. */
export function bruteRateLimited(reports: readonly StoredReport[], path: string, limit: number, windowSeconds: number): StoredReport[] {
  const counted = new Map<string, number[]>();
  const refused: StoredReport[] = [];
  for (const r of reports) {
    if (r.path.toLowerCase() !== path) continue;
    const times = counted.get(r.ip) ?? [];
    const inWindow = times.filter((t) => t > r.ts - windowSeconds);
    if (inWindow.length >= limit) refused.push(r);
    else inWindow.push(r.ts);
    counted.set(r.ip, inWindow);
  }
  return refused;
}

export interface PreviewJob {
  id: string;
  state: string;
  /** The range replayed, Unix seconds [from, to). */
  from: number;
  to: number;
  scanned: number;
  progress: number;
  /** Workers that scanned the range at once. */
  parts: number;
  error?: string;
  result?: {
    requests: number;
    wouldChange: number;
    treatments: Record<string, number>;
    matched: { requests: number; distinctIps: number; recorded: Record<string, number>; topIps: { entries: { value: string; count: number }[] }; examples: unknown[] };
  };
}

/** Starts a preview over the API and waits for its result. */
export async function runPreview(client: Client, siteId: number, rule: unknown, range = '24h'): Promise<PreviewJob> {
  const started = await client.api('POST', `/api/sites/${siteId}/rules/preview`, { rule, range });
  assert.equal(started.status, 202, await started.clone().text());
  let job = ((await started.json()) as { job: PreviewJob }).job;
  for (let i = 0; i < 2400 && job.state === 'running'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const polled = await client.api('GET', `/api/sites/${siteId}/rules/preview/${job.id}`);
    assert.equal(polled.status, 200);
    job = ((await polled.json()) as { job: PreviewJob }).job;
  }
  return job;
}
