import { BAN_RULE_PREFIX, banKeyOf, reportedBanKey, type ReportedKey } from './ban-key.js';
import type { FleetCounts } from './fleet-counts.js';
import { BUCKETS, SlidingCounters } from './sliding-counters.js';
import type { ThresholdCondition, ThresholdRule } from './threshold-types.js';

/** The fields of a stored report a threshold rule looks at (`status` only when the client reported one). */
export interface ThresholdRecord {
  /** Unix seconds. */
  ts: number;
  ip: string;
  method: string;
  path: string;
  treatment: string;
  status?: number | null;
  /** Requests this record stands for (a client's count of alike Passed requests); 1 when absent. */
  aggregateCount?: number;
  /** The keys a Moat client reported with the request, hashed (validated on ingest); absent or null: none. */
  keys?: readonly ReportedKey[] | null;
  /** The deciding rule's category and id as reported (Wafris clients send no id); absent: not known. */
  category?: string;
  ruleId?: string | null;
  /**
   * Where the client read the address: a Moat client always says (`socket`, the header it trusts from its
   * proxies, or `proxy`); null when the report did not say (the Wafris gem). Absent: not known (the
   * preview's stored reports), counted as said.
   */
  ipSource?: string | null;
}

/** A key that reached a rule's threshold: counting for it starts again from zero. */
export interface Crossing {
  rule: ThresholdRule;
  /** Canonical key text (banKeyOf). */
  key: string;
  count: number;
  /** The crossing record's time, Unix seconds. */
  at: number;
}

const NO_CROSSINGS: readonly Crossing[] = Object.freeze([]);

/**
 * Streams reports through each site's threshold rules: pure counting, no I/O. The work per batch is
 * records × the site's rules (both bounded: the upsync record cap, THRESHOLD_LIMITS.maxRulesPerSite),
 * and memory is the counters' fixed slab, so no batch can stall the hub or grow it.
 */
export class ThresholdEvaluator {
  private readonly rulesBySite = new Map<number, readonly ThresholdRule[]>();

  /** `fleet` when hubs share a database: keys that matter are also counted fleet-wide (see FleetCounts). */
  constructor(readonly counters: SlidingCounters, readonly fleet?: FleetCounts) {}

  /** Replaces a site's rules; counts of rules that changed or went are dropped (their window may differ). */
  setRules(siteId: number, rules: readonly ThresholdRule[]): void {
    const before = this.rulesBySite.get(siteId) ?? [];
    for (const old of before) {
      const kept = rules.find((r) => r.id === old.id);
      if (!kept || kept.updatedAt !== old.updatedAt || kept.windowSeconds !== old.windowSeconds) this.counters.dropSpace(old.id);
    }
    // Each site's keys draw on its own share of the counters (see SlidingCounters).
    for (const rule of rules) this.counters.assign(rule.id, siteId);
    if (rules.length === 0) this.rulesBySite.delete(siteId);
    else this.rulesBySite.set(siteId, [...rules]);
  }

  siteIds(): number[] {
    return [...this.rulesBySite.keys()];
  }

  rulesOf(siteId: number): readonly ThresholdRule[] {
    return this.rulesBySite.get(siteId) ?? [];
  }

  /** Counts a stored batch of one site; returns the keys that reached a threshold with it. */
  evaluate(siteId: number, records: readonly ThresholdRecord[]): readonly Crossing[] {
    const rules = this.rulesBySite.get(siteId);
    // Sites without threshold rules (the common case) cost one Map lookup per batch.
    if (rules === undefined) return NO_CROSSINGS;
    let crossings: Crossing[] | undefined;
    for (const record of records) {
      if (blockedByBan(record)) continue;
      const unsaidAddress = addressUnsaid(record);
      // A trusted proxy's own address (its client-IP header was missing or garbled): not a client's, so
      // never banned by address, or a client garbling the header could ban the proxy its health checks come from.
      const proxyAddress = record.ipSource === 'proxy';
      let path: string | undefined;
      // Keys by kind, computed once per record however many rules count it.
      let ipKey: string | null | undefined;
      let ip64Key: string | null | undefined;
      for (const rule of rules) {
        const c = rule.condition;
        if (unsaidAddress && c.clients !== 'all') continue;
        if (c.requests === 'blocked' && record.treatment !== 'Blocked') continue;
        if (c.status !== null && record.status !== c.status) continue;
        if (c.method !== null && record.method.toUpperCase() !== c.method) continue;
        if (c.path !== null) {
          path ??= comparablePath(record.path);
          if (!pathMatches(path, c.path, c.pathMatch)) continue;
        }
        const key = proxyAddress ? (rule.key === 'ip' || rule.key === 'ip64' ? null : keyedBanKey(record.keys, rule.key))
          : rule.key === 'ip64' ? (ip64Key ??= banKeyOf(record.ip, 'ip64'))
          : rule.key === 'ip' ? (ipKey ??= banKeyOf(record.ip, 'ip'))
          // A request without the rule's key counts by its IP: leaving the key out never escapes the rule.
          : keyedBanKey(record.keys, rule.key) ?? (ipKey ??= banKeyOf(record.ip, 'ip'));
        if (key === null) continue;
        const bucket = Math.floor((record.ts * BUCKETS) / rule.windowSeconds);
        const weight = record.aggregateCount ?? 1;
        const count = this.counters.add(rule.id, key, bucket, weight);
        if (count >= rule.threshold) {
          this.counters.reset(rule.id, key);
          this.fleet?.crossed(rule, key);
          (crossings ??= []).push({ rule, key, count, at: record.ts });
        } else if (this.fleet !== undefined) {
          this.fleet.note(rule, key, bucket, weight, count, this.counters);
        }
      }
    }
    return crossings ?? NO_CROSSINGS;
  }
}

/**
 * A request a ban blocked counts toward no threshold rule. Clients keep blocking a lifted or expired ban
 * until their rules file catches up; counted, those requests would ban the key again at once. Moat
 * clients name the ban's rule id (`auto-ban-<n>`); Wafris clients send no rule id, so any address rule
 * of theirs (`bi`, `bc`) is taken for one: that address is blocked on every client already.
 */
export function blockedByBan(record: ThresholdRecord): boolean {
  if (record.treatment !== 'Blocked') return false;
  if (record.ruleId) return record.ruleId.startsWith(BAN_RULE_PREFIX);
  return record.category === 'bi' || record.category === 'bc';
}

/**
 * A report whose client did not say where it read the address: the Wafris gem, which takes X-Real-IP,
 * True-Client-IP or CF-Connecting-IP from any visitor, so its `ip` may be anyone's. Counted, one visitor
 * could have any address banned on every client of the site; only rules with `clients: 'all'` count
 * them. A count of Passed requests (aggregateCount) comes only from Moat clients.
 */
export function addressUnsaid(record: ThresholdRecord): boolean {
  return record.ipSource === null && record.aggregateCount === undefined;
}

/** The ban key of the record's `kind` key (`header:x-api-key=<hash>`), or null when it reported none. */
export function keyedBanKey(keys: readonly ReportedKey[] | null | undefined, kind: string): string | null {
  if (keys === undefined || keys === null) return null;
  for (const key of keys) if (key.kind === kind) return reportedBanKey(kind, key.hash);
  return null;
}

/** The path as rules are written: lower case, without the query. */
function comparablePath(path: string): string {
  const query = path.indexOf('?');
  return (query === -1 ? path : path.slice(0, query)).toLowerCase();
}

/** Exact, or prefix: the path itself and everything below it (`/admin` matches `/admin/x`, not `/administrator`). */
function pathMatches(path: string, want: string, match: ThresholdCondition['pathMatch']): boolean {
  if (path === want) return true;
  if (match !== 'prefix') return false;
  return path.startsWith(want.endsWith('/') ? want : `${want}/`);
}
