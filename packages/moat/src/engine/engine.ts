/**
 * The evaluator: one request in, one decision out, synchronously, with no I/O.
 * Order and categories follow Wafris v2 (../shared/wafris-v2.md) with correct semantics:
 * allow IPs → block IPs → country/ASN → lists → user agent → path → parameters → host → method → rate limits.
 */
import { parseIpInto } from '../ip/parse-into.js';
import { CONTINENT_OF } from '../rules/continents.js';
import type { DataSet } from '../data/data-set.js';
import type { Category, Decision, MonitorMatch, MoatRequest } from './decision.js';
import type { RateLimitStore } from './rate-limiter.js';
import { MemoryRateLimitStore } from './rate-limiter.js';
import type { RuleSet } from './rule-set.js';
import { emptyRuleSet, loadDataFile, loadRulesFile } from '../format/load-files.js';
import type { DataMode } from '../data/read-data.js';

const NO_MONITORS: readonly MonitorMatch[] = Object.freeze([]);
const PASSED: Decision = Object.freeze({
  treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: NO_MONITORS,
});

export interface EngineParts {
  rules: RuleSet;
  data?: DataSet | null;
  /** Millisecond clock; injectable for tests of rate limits and expiry. */
  now?: () => number;
  rateLimits?: RateLimitStore;
  /** Group IPv6 clients by this prefix length for rate limits (default /64: one subscriber, one key). */
  ipv6RateLimitPrefix?: 64 | 128;
}

export interface EngineOptions extends Omit<EngineParts, 'rules' | 'data'> {
  /** Rules file (Moat or Wafris format); none means no rules. */
  rules?: string;
  /** Data file (countries, ASNs, lists; Moat or Wafris format). */
  data?: string;
  /** `memory` loads the data ranges (fastest); `light` seeks in the file (least memory per process). */
  dataMode?: DataMode;
}

export class Engine {
  readonly rules: RuleSet;
  readonly data: DataSet | null;
  readonly rateLimits: RateLimitStore;
  private readonly now: () => number;
  // Scratch space for the parsed client IP: evaluate() is synchronous, so one buffer per engine is safe.
  private readonly words = new Uint32Array(4);
  private readonly v6Prefix: 64 | 128;

  constructor(parts: EngineParts) {
    this.rules = parts.rules;
    this.data = parts.data ?? null;
    this.now = parts.now ?? Date.now;
    this.rateLimits = parts.rateLimits ?? new MemoryRateLimitStore();
    this.v6Prefix = parts.ipv6RateLimitPrefix ?? 64;
  }

  /** Opens the files and prepares everything a request needs; throws MoatFileError on a bad file. */
  static open(options: EngineOptions = {}): Engine {
    const rules = options.rules ? loadRulesFile(options.rules) : emptyRuleSet();
    const data = options.data ? loadDataFile(options.data, options.dataMode) : null;
    return new Engine({ ...options, rules, data });
  }

  evaluate(req: MoatRequest): Decision {
    const rs = this.rules;
    const now = this.now();
    const words = this.words;
    const family = parseIpInto(req.ip ?? '', words);
    let monitored: MonitorMatch[] | null = null;
    // Picks the first live rule of `candidates`; live monitor rules met on the way are reported.
    const pick = (candidates: readonly number[], category: Category, what: (i: number) => string): number => {
      for (const i of candidates) {
        const r = rs.rules[i];
        if (r.expires !== undefined && r.expires <= now) continue;
        if (r.mode === 'monitor') {
          (monitored ??= []).push({ category, rule: what(i), ruleId: r.id });
          continue;
        }
        return i;
      }
      return -1;
    };
    const decide = (treatment: 'Allowed' | 'Blocked', category: Category, i: number, rule: string): Decision => ({
      treatment, category, rule, ruleId: rs.rules[i].id, monitored: monitored ?? NO_MONITORS,
    });
    const value = (i: number) => rs.rules[i].value;

    if (family !== 0) {
      // 1–2: allow by IP/CIDR; 3–4: block by IP/CIDR. One seek each.
      for (const [index, treatment] of [[rs.allowIps, 'Allowed'], [rs.blockIps, 'Blocked']] as const) {
        const set = index.table.lookupParsed(family, words);
        if (set < 0) continue;
        const cat = (i: number): Category =>
          treatment === 'Allowed' ? (rs.singleIp[i] ? 'ai' : 'ac') : rs.singleIp[i] ? 'bi' : 'bc';
        const candidates = index.sets[set];
        // Category depends on each rule, so pick per rule (sets are tiny: the rules covering one range).
        for (const i of candidates) {
          const hit = pick([i], cat(i), value);
          if (hit >= 0) return decide(treatment, cat(hit), hit, value(hit));
        }
      }
      // 5–6: country, ASN and lists, from a single lookup in the data file.
      const data = this.data;
      if (data !== null && rs.needsData) {
        const id = data.table.lookupParsed(family, words);
        if (id >= 0) {
          const label = data.labels[id];
          if (label.country !== null) {
            const cc = label.country;
            let hit = pick(rs.countries.get(cc) ?? [], 'bctry', value);
            if (hit < 0) {
              const continent = CONTINENT_OF.get(cc);
              if (continent) hit = pick(rs.countries.get(`continent:${continent}`) ?? [], 'bctry', value);
            }
            if (hit >= 0) return decide('Blocked', 'bctry', hit, value(hit));
          }
          if (label.asn !== null) {
            const hit = pick(rs.asns.get(label.asn) ?? [], 'brep', value);
            if (hit >= 0) return decide('Blocked', 'brep', hit, value(hit));
          }
          for (const list of label.lists) {
            const hit = pick(rs.lists.get(list) ?? [], 'brep', value);
            if (hit >= 0) return decide('Blocked', 'brep', hit, value(hit));
          }
        }
      }
    }

    // 7–9: substrings, case-insensitive.
    const substringChecks = [
      [rs.userAgents, req.userAgent, 'bu'],
      [rs.paths, req.path, 'bp'],
      [rs.params, req.params, 'bparam'],
    ] as const;
    for (const [matcher, text, category] of substringChecks) {
      if (matcher.size === 0 || !text) continue;
      const hits = matcher.match(text.toLowerCase());
      if (hits !== null) {
        const hit = pick(hits, category, value);
        if (hit >= 0) return decide('Blocked', category, hit, value(hit));
      }
    }

    // 10–11: host and method, exact and case-insensitive.
    if (rs.hosts.size > 0 && req.host) {
      const hit = pick(rs.hosts.get(req.host.toLowerCase()) ?? [], 'bh', value);
      if (hit >= 0) return decide('Blocked', 'bh', hit, value(hit));
    }
    const method = req.method ? req.method.toUpperCase() : '';
    if (rs.methods.size > 0 && method) {
      const hit = pick(rs.methods.get(method) ?? [], 'bm', value);
      if (hit >= 0) return decide('Blocked', 'bm', hit, value(hit));
    }

    // 12: rate limits, per rule and client.
    if ((rs.rateLimitsExact.size > 0 || rs.rateLimitsPrefix.length > 0) && family !== 0) {
      const path = (req.path ?? '/').toLowerCase();
      const candidates = rs.rateLimitsExact.get(path) ?? [];
      const prefixed = rs.rateLimitsPrefix.filter((i) => path.startsWith(rs.rules[i].rateLimit!.path));
      for (const i of prefixed.length > 0 ? [...candidates, ...prefixed] : candidates) {
        const r = rs.rules[i];
        const spec = r.rateLimit!;
        if (r.expires !== undefined && r.expires <= now) continue;
        if (spec.method !== null && spec.method !== method) continue;
        const wait = this.rateLimits.hit(`${r.id}|${this.clientKey(family)}`, spec.limit, spec.windowMs, now);
        if (wait === 0) continue;
        if (r.mode === 'monitor') {
          (monitored ??= []).push({ category: 'brl', rule: r.id, ruleId: r.id });
          continue;
        }
        return { ...decide('Blocked', 'brl', i, r.id), retryAfter: Math.ceil(wait / 1000) };
      }
    }

    if (monitored === null) return PASSED;
    return { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored };
  }

  /** IPv4 clients by address; IPv6 clients by /64 by default, since one subscriber gets a whole /64. */
  private clientKey(family: 4 | 6): string {
    const w = this.words;
    if (family === 4) return String(w[0]);
    return this.v6Prefix === 64 ? `${w[0]}:${w[1]}::` : `${w[0]}:${w[1]}:${w[2]}:${w[3]}`;
  }

  close(): void {
    this.data?.close();
  }
}
