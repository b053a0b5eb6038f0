/**
 * The hub bench's synthetic traffic: upsync records with a realistic skew (a few hot IPs, paths and user
 * agents, a long tail), as JSON bodies send them and as the store receives them. No hub import, so the
 * store-level benches can use it without starting a hub.
 */
import type { ReportRecord } from '../packages/hub/src/store/store.js';

const IP_POOL = 50_000;
const PATHS = Array.from({ length: 2000 }, (_, i) => `/p/${i}/${['view', 'edit', 'list'][i % 3]}`);
const AGENTS = Array.from({ length: 300 }, (_, i) => `Mozilla/5.0 agent-${i} (bench)`);

/** Zipf-like pick: a few values are hot, most are rare, as in real traffic. */
function skewed(n: number, r: number): number {
  return Math.min(n - 1, Math.floor(n * r * r * r));
}

export function makeRecord(i: number, ts: number): Record<string, unknown> {
  const r = ((i * 2654435761) >>> 0) / 2 ** 32;
  const ip = skewed(IP_POOL, r);
  const blocked = i % 17 === 0;
  return {
    ip: `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
    user_agent: AGENTS[skewed(AGENTS.length, (r * 7) % 1)], path: PATHS[skewed(PATHS.length, (r * 13) % 1)],
    parameter: i % 5 === 0 ? 'q=shoes&page=2' : '', host: 'shop.example.com', method: i % 9 === 0 ? 'POST' : 'GET',
    request_id: `req-${i}`, timestamp: ts, treatment: blocked ? 'Blocked' : 'Passed',
    category: blocked ? 'bp' : 'passed', rule: blocked ? '/wp-admin' : '-', rule_id: blocked ? 'b-wpadmin' : null,
  };
}

export function toStored(r: Record<string, unknown>): ReportRecord {
  const blocked = r.treatment === 'Blocked';
  return {
    ts: r.timestamp as number, ip: r.ip as string, method: r.method as string, host: r.host as string, path: r.path as string,
    parameter: r.parameter as string, userAgent: r.user_agent as string, requestId: r.request_id as string,
    treatment: blocked ? 'Blocked' : 'Passed', category: r.category as string, rule: r.rule as string,
    ruleId: (r.rule_id as string | null) ?? null, monitored: null, ipSource: null, country: null,
  };
}

/** API keys seen in the traffic (a few hot, most rare) and the share of reports that carry one. */
const API_KEYS = 5000;
const KEYED_EVERY = 3;

/**
 * The hashed keys report `i` carries as a Moat client reports them when the site's threshold rules count
 * by `header:x-api-key`: one report in KEYED_EVERY, its key picked with the same skew as addresses. The
 * hash is 32 hex digits made from the key's number (the hub stores and compares hashes, never values).
 */
export function benchReportedKeys(i: number): { kind: string; hash: string }[] | null {
  if (i % KEYED_EVERY !== 0) return null;
  const r = ((i * 2246822519) >>> 0) / 2 ** 32;
  const key = skewed(API_KEYS, r);
  return [{ kind: 'header:x-api-key', hash: ((key * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(4) }];
}

/** Report `i` stored at `ts` with its hashed keys (benchReportedKeys), as the preview bench stores them. */
export function keyedBenchReport(i: number, ts: number): ReportRecord {
  return { ...toStored(makeRecord(i, ts)), keys: benchReportedKeys(i) };
}

/** Report `i` of the bench's traffic, stored at `ts`, as the store receives it. */
export function benchReport(i: number, ts: number): ReportRecord {
  return toStored(makeRecord(i, ts));
}
