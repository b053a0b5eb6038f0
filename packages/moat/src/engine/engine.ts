/**
 * The evaluator: one request in, one decision out, synchronously, with no I/O.
 * Order and categories follow Wafris v2 (docs/wafris-v2.md) with correct semantics:
 * allow IPs → verified bots allowed (Moat only, bots/) → block IPs → country/ASN → lists → user agent → bots
 * blocked → path → parameters → host → method → attacks (Moat
 * only, attacks/) → rate limits.
 */
import { parseIpInto } from '../ip/parse-into.js';
import { CONTINENT_OF } from '../rules/continents.js';
import { labelOf, type DataSet } from '../data/data-set.js';
import type { Category, Decision, MonitorMatch, MoatRequest } from './decision.js';
import type { RateLimitStore } from './rate-limiter.js';
import { MemoryRateLimitStore } from './rate-limiter.js';
import type { PendingRateLimits, RateLimitHit, SharedRateLimitStore } from './shared-rate-limit-store.js';
import { keyedClient, keyHash } from './rate-limit-client.js';
import type { RequestKeys, RequestKeySpec } from './request-keys.js';
import type { ExactIndex } from './exact-index.js';
import { lowerCased, upperCased } from '../text/fast-case.js';
import { mayOverrideUnkeyed, methodOverrides } from './method-overrides.js';
import { RecentValues } from '../text/recent-values.js';
import { QuietRequests } from './quiet-requests.js';
import type { IpRuleIndex, RuleSet } from './rule-set.js';
import type { SubstringMatcher } from './substring-matcher.js';
import { emptyRuleSet, loadDataFile, loadRulesFile } from '../format/load-files.js';
import type { DataMode } from '../data/data-set.js';
import { RequestAttackScan, type AttackPolicy } from '../attacks/request-attacks.js';
import { attackWhere, type AttackMatch } from '../attacks/types.js';
import { BotCheck } from '../bots/bot-check.js';
import { MoatError } from '../errors/moat-error.js';
import type { BotVerdict } from '../bots/bot-policy.js';

const NO_MONITORS: readonly MonitorMatch[] = Object.freeze([]);
/** Slots of the quiet-IP memo; an IPv6 text with a zone is at most ~50 characters. */
const QUIET_IP_SLOTS = 256;
const QUIET_IP_MAX_LENGTH = 64;
const NO_RULES: readonly number[] = Object.freeze([]);
/** Monitor matches recorded in one evaluation beyond which decides() remembers them in a Set. */
const FEW_MONITORED = 16;
const PASSED: Decision = Object.freeze({
  treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: NO_MONITORS,
});

export interface EngineParts {
  rules: RuleSet;
  data?: DataSet | null;
  /** Millisecond clock; injectable for tests of rate limits and expiry. */
  now?: () => number;
  rateLimits?: RateLimitStore;
  /**
   * Counters shared across processes (e.g. Redis). With one, a request matching rate-limit rules comes
   * back from evaluate() with `pendingRateLimits` for settleRateLimits() to count; `rateLimits` is unused.
   */
  sharedRateLimits?: SharedRateLimitStore | null;
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

// Index reads below use `!` rather than checks: rule numbers in the rule set's indexes always point into
// `rules.rules`, labels from a range table into its data set's labels (checked when the file loads), and
// loops stay within their arrays. A `!` costs nothing on the request path; a check would.
export class Engine {
  readonly rules: RuleSet;
  readonly data: DataSet | null;
  readonly rateLimits: RateLimitStore;
  readonly sharedRateLimits: SharedRateLimitStore | null;
  private readonly now: () => number;
  // Scratch space for the parsed client IP: evaluate() is synchronous, so one buffer per engine is safe.
  private readonly words = new Uint32Array(4);
  private readonly v6Prefix: 64 | 128;
  /** Lengths of the exact rate-limit paths, so `/blog/` is not sliced to look up a `/blog` no rule names. */
  private readonly exactRateLimitLengths: ReadonlySet<number>;
  /**
   * True when a rate limit counts, a keyed ban blocks or a report names the app's user id: only then
   * does the firewall ask the app for it.
   */
  readonly rateLimitsByUser: boolean;

  constructor(parts: EngineParts) {
    this.rules = parts.rules;
    this.data = parts.data ?? null;
    this.now = parts.now ?? Date.now;
    this.rateLimits = parts.rateLimits ?? new MemoryRateLimitStore();
    this.sharedRateLimits = parts.sharedRateLimits ?? null;
    this.v6Prefix = parts.ipv6RateLimitPrefix ?? 64;
    this.exactRateLimitLengths = new Set(this.rules.rules.flatMap((r) =>
      r.kind === 'rateLimit' && r.rateLimit.match !== 'prefix' ? [r.rateLimit.path.length] : []));
    this.rateLimitsByUser = this.rules.rules.some((r) => r.kind === 'rateLimit' && r.rateLimit.key?.by === 'user') || this.rules.keys?.byUser === true;
    this.keyHashes = new Array<string | null | undefined>(this.rules.keys?.specs.length ?? 0);
    this.bots = this.rules.bots === null ? null : new BotCheck(this.rules.bots, this.data);
    this.quietRequests = this.bots === null ? new QuietRequests(this.rules.attacks?.headers ?? null) : null;
    this.hasMethodRules = this.rules.methods.size > 0;
  }

  /** Opens the files and prepares everything a request needs; throws MoatFileError on a bad file. */
  static open(options: EngineOptions = {}): Engine {
    const rules = options.rules ? loadRulesFile(options.rules) : emptyRuleSet();
    const data = options.data ? loadDataFile(options.data, options.dataMode) : null;
    return new Engine({ ...options, rules, data });
  }

  evaluate(req: MoatRequest): Decision {
    const keys = this.rules.keys;
    // Files without keyed bans or reported keys (nearly all) go straight on: one null check.
    if (keys === null) {
      const quiet = this.quietRequests;
      // Method overrides the memo's key does not hold: a request that may name one is always judged.
      if (quiet === null || quiet.resting() || (this.hasMethodRules && mayOverrideUnkeyed(req))) return this.judge(req);
      const tag = quiet.tag(req);
      if (quiet.has(req, tag)) return PASSED;
      const d = this.judge(req);
      // Not a request judged without its allow rules (a proxy's own address): a later one may be allowed.
      if (d === PASSED && !this.ruleConsulted && !this.clockRead && req.ipSource !== 'proxy') quiet.add(req, tag);
      return d;
    }
    this.keyHashes.fill(undefined);
    const d = this.judge(req);
    return keys.hasReported ? this.withReportKeys(d, keys, req) : d;
  }

  private judge(req: MoatRequest): Decision {
    const rs = this.rules;
    this.clockRead = false;
    this.monitored = null;
    this.monitoredKeys = null;
    this.ruleConsulted = false;
    const ip = req.ip ?? '';
    const family = this.parseClientIp(ip);
    let d: Decision | null;
    const ipStages = family !== 0 && this.quietIps.get(ip) === undefined;
    // 1–2: allow by IP/CIDR; 3–4: block by IP/CIDR; 5–6: country, ASN, lists. One seek each.
    // A trusted proxy's own address, judged because its header was unusable, is never allowed by IP.
    const allowable = req.ipSource !== 'proxy';
    if (ipStages && allowable && (d = this.checkIp(rs.allowIps, family, 'Allowed')) !== null) return d;
    const bot: BotVerdict | null = this.bots !== null && req.userAgent ? this.bots.run(req.userAgent, family, this.words) : null;
    // A verified bot with mode allow passes the rules on who asks (addresses, countries, networks, lists,
    // keyed bans, user agents, bot blocks), not those on what it asks for: anyone can make a crawler or a
    // user-triggered fetcher request a URL of their choosing, so paths, parameters, hosts, methods,
    // attack detection and rate limits still judge it.
    const allowedBot = bot !== null && bot.action === 'allow' ? bot : null;
    if (allowedBot === null) {
      if (ipStages) {
        if ((d = this.checkIp(rs.blockIps, family, 'Blocked')) !== null) return d;
        if (this.data !== null && rs.needsData && (d = this.checkData(this.data, family)) !== null) return d;
        if (!this.ruleConsulted && allowable) this.quietIps.set(ip, true);
      }
      // Keyed bans: after every allow, with the block rules; the request's key hashed once (keyHashOf).
      if (rs.keys !== null && rs.keys.hasBans && (d = this.checkKeyBans(rs.keys, req)) !== null) return d;
      // 7–9: substrings, case-insensitive.
      if (rs.userAgents.size > 0 && req.userAgent && (d = this.checkSubstring(rs.userAgents, req.userAgent, 'bu')) !== null) return d;
      // Bot blocks sit with the user-agent rules they are a named form of; monitor verdicts are recorded.
      if (bot !== null) {
        if (bot.action === 'block') return this.botDecision('Blocked', bot);
        (this.monitored ??= []).push({ category: bot.category, rule: bot.rule, ruleId: bot.ruleId });
      }
    }
    // Path and host rules judge every form the app may act on (pathForms, hostForms): any match decides.
    if (rs.paths.size > 0 && (d = this.checkPaths(rs.paths, req)) !== null) return d;
    if (rs.params.size > 0 && req.params && (d = this.checkSubstring(rs.params, req.params, 'bparam')) !== null) return d;
    // 10–11: host and method, exact and case-insensitive.
    if (rs.hosts.size > 0 && (d = this.checkHosts(rs.hosts, req)) !== null) return d;
    const method = req.method ? upperCased(req.method) : '';
    if (rs.methods.size > 0) {
      if (method && (d = this.checkMethod(rs.methods, method)) !== null) return d;
      if ((d = this.checkMethodOverrides(rs.methods, req, method)) !== null) return d;
    }
    // Attack detection: after the allow and block rules, before rate limits (docs/attacks.md).
    if (rs.attacks !== null && (d = this.checkAttacks(rs.attacks, req)) !== null) return d;
    // 12: rate limits, per rule and client.
    if (family !== 0 && (rs.rateLimitsExact.size > 0 || rs.rateLimitsPrefix.length > 0)) {
      const path = lowerCased(req.path ?? '/');
      const forms = req.pathForms;
      if (this.sharedRateLimits !== null) {
        const pending = this.pendingRateLimits(family, method, path, forms, req);
        if (pending !== null) {
          const answer = allowedBot !== null ? this.botDecision('Allowed', allowedBot)
            : { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: this.monitored ?? NO_MONITORS } satisfies Decision;
          return { ...answer, pendingRateLimits: pending };
        }
      } else if ((d = this.checkRateLimits(family, method, path, forms, req)) !== null) return d;
    }
    if (allowedBot !== null) return this.botDecision('Allowed', allowedBot);
    const monitored = this.monitored;
    if (monitored === null) return PASSED;
    return { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored };
  }

  /**
   * Counts the rate limits a decision from evaluate() left pending, in the shared store, and returns the
   * final decision (the decision itself when nothing is pending). Never rejects: the store falls back to
   * local counting on its own, and `onFallback` hears why.
   */
  async settleRateLimits(decision: Decision, onFallback?: (error: Error) => void): Promise<Decision> {
    const pending = decision.pendingRateLimits;
    if (pending === undefined || this.sharedRateLimits === null) return decision;
    const outcome = await this.sharedRateLimits.hitAll(pending.hits, pending.now);
    if (outcome.fallback !== null) onFallback?.(outcome.fallback);
    let monitored: MonitorMatch[] | null = decision.monitored.length > 0 ? [...decision.monitored] : null;
    for (let k = 0; k < outcome.waits.length && k < pending.rules.length; k++) {
      const wait = outcome.waits[k]!;
      if (wait === 0) continue;
      const r = this.rules.rules[pending.rules[k]!]!;
      if (r.mode === 'monitor') {
        (monitored ??= []).push({ category: 'brl', rule: r.id, ruleId: r.id });
        continue;
      }
      const blocked: Decision = {
        treatment: 'Blocked', category: 'brl', rule: r.id, ruleId: r.id, monitored: monitored ?? NO_MONITORS,
        retryAfter: Math.ceil(wait / 1000), rateLimitKey: pending.hits[k]?.by ?? 'ip',
      };
      if (decision.reportKeys !== undefined) blocked.reportKeys = decision.reportKeys;
      return blocked;
    }
    // The decision as it was (Passed, or Allowed for a verified bot), without what was pending.
    const passed: Decision = { treatment: decision.treatment, category: decision.category, rule: decision.rule, ruleId: decision.ruleId, monitored: monitored ?? NO_MONITORS };
    if (decision.reportKeys !== undefined) passed.reportKeys = decision.reportKeys;
    return passed;
  }

  // The last client IP parsed into `words`. Keep-alive connections send request after request from the
  // same peer, and Node hands over the same address string each time, so the parse is skipped then.
  private lastIp: string | null = null;
  private lastFamily: 0 | 4 | 6 = 0;

  private parseClientIp(ip: string): 0 | 4 | 6 {
    if (ip !== this.lastIp) {
      this.lastIp = null; // in case parsing throws halfway through `words`
      this.lastFamily = parseIpInto(ip, this.words);
      this.lastIp = ip;
    }
    return this.lastFamily;
  }

  /**
   * Client IPs for which the IP stages (1–6) met no rule at all: not even an expired or monitor-mode
   * one. Their answer depends only on the IP and this engine's rules and data, which never change (a
   * new rules or data file makes a new engine), so a repeat client skips the three seeks. Measured with
   * 2 M ranges on real IncomingMessages, caches evicted between checks as a busy server's own work does:
   * −0.5 µs of ~2 µs per check (interleaved rounds). Keep-alive clients, bots and floods repeat addresses.
   */
  private readonly quietIps = new RecentValues<true>(QUIET_IP_SLOTS, QUIET_IP_MAX_LENGTH);
  /** Set by decides() and by a rate limit that counts: some rule was weighed, so the outcome may depend on time or be recorded. */
  private ruleConsulted = false;
  /** Whole requests that weighed no rule and held no attack (quiet-requests.ts); null when bot rules read more than its key. */
  private readonly quietRequests: QuietRequests | null;
  /** Method rules exist: a request may then name an override the memo of quiet requests does not key on. */
  private readonly hasMethodRules: boolean;

  // Per-evaluation state, kept on the instance so the hot path allocates no closures.
  private nowMs = 0;
  private clockRead = false;

  /** The clock, read at most once per evaluation and only when a rule needs it (most requests never do). */
  private time(): number {
    if (!this.clockRead) {
      this.nowMs = this.now();
      this.clockRead = true;
    }
    return this.nowMs;
  }
  private monitored: MonitorMatch[] | null = null;

  /** The bot stage (bots/bot-check.ts); null when the rules file has no bot settings on. */
  readonly bots: BotCheck | null;

  private botDecision(treatment: 'Allowed' | 'Blocked', bot: BotVerdict): Decision {
    return { treatment, category: bot.category, rule: bot.rule, ruleId: bot.ruleId, monitored: this.monitored ?? NO_MONITORS };
  }

  /** Reused per evaluation (synchronous), so a clean request allocates nothing for attack detection. */
  private readonly attackScan = new RequestAttackScan();
  /** Requests whose inputs were not all examined for attacks (work cap); also reported as `attack-cut`. */
  attackScansCut = 0;

  /** A Blocked decision for a block-mode attack; monitor-mode ones are recorded in `monitored`. */
  private checkAttacks(policy: AttackPolicy, req: MoatRequest): Decision | null {
    const scan = this.attackScan.run(policy, req);
    if (scan.cut) {
      this.attackScansCut++;
      (this.monitored ??= []).push({ category: 'attack-cut', rule: 'inputs beyond the attack work cap were not examined', ruleId: 'attacks' });
    }
    const monitors = scan.monitor;
    if (monitors !== null) {
      for (const m of monitors) (this.monitored ??= []).push({ category: `attack-${m.category}`, rule: attackRuleText(m), ruleId: `attacks.${m.category}` });
    }
    const hit = scan.block;
    if (hit === null) return null;
    return {
      treatment: 'Blocked', category: `attack-${hit.category}`, rule: attackRuleText(hit), ruleId: `attacks.${hit.category}`,
      monitored: this.monitored ?? NO_MONITORS, attack: hit,
    };
  }

  /** First rule of `candidates` that decides (live, block mode), or -1. */
  private pick(candidates: readonly number[] | undefined, category: Category): number {
    if (candidates === undefined) return -1;
    for (let k = 0; k < candidates.length; k++) if (this.decides(candidates[k]!, category)) return candidates[k]!;
    return -1;
  }

  /** Whether rule `i` decides the request: expired rules never do; monitor rules are recorded instead. */
  private decides(i: number, category: Category): boolean {
    this.ruleConsulted = true;
    const r = this.rules.rules[i]!;
    if (r.expires !== undefined && r.expires <= this.time()) return false;
    if (r.mode === 'monitor') {
      // A rule met again through another form of the same request is recorded once.
      const monitored = (this.monitored ??= []);
      if (!this.recordedBefore(monitored, r.id, category)) monitored.push({ category, rule: r.value, ruleId: r.id });
      return false;
    }
    return true;
  }

  /**
   * Per evaluation, once more than a few monitor matches are recorded: `category ruleId` of each, so a
   * request meeting thousands of monitor-mode rules (a body holding every rule's value) is not checked
   * against the whole list once per rule. Entries added later outside decides() (bots, attacks, rate
   * limits) have categories decides() never records, so they need not be in it.
   */
  private monitoredKeys: Set<string> | null = null;

  /** Whether `ruleId` was recorded under `category` in this evaluation already. */
  private recordedBefore(monitored: readonly MonitorMatch[], ruleId: string, category: Category): boolean {
    let keys = this.monitoredKeys;
    if (keys === null) {
      if (monitored.some((m) => m.ruleId === ruleId && m.category === category)) return true;
      if (monitored.length < FEW_MONITORED) return false;
      keys = this.monitoredKeys = new Set(monitored.map((m) => `${m.category} ${m.ruleId}`));
    }
    const key = `${category} ${ruleId}`;
    if (keys.has(key)) return true;
    keys.add(key);
    return false;
  }

  /** Per evaluation: each key spec's hash for this request (undefined: not computed yet; null: absent). */
  private readonly keyHashes: (string | null | undefined)[];

  private keyHashOf(k: number, spec: RequestKeySpec, req: MoatRequest): string | null {
    let hash = this.keyHashes[k];
    if (hash === undefined) hash = this.keyHashes[k] = keyHash(spec.key, req);
    return hash;
  }

  /** A keyed ban whose hash is the request's: the decision names the key (`header:x-api-key`), never its value. */
  private checkKeyBans(keys: RequestKeys, req: MoatRequest): Decision | null {
    const specs = keys.specs;
    for (let k = 0; k < specs.length; k++) {
      const spec = specs[k]!;
      if (spec.bans === null) continue;
      const hash = this.keyHashOf(k, spec, req);
      if (hash === null) continue;
      const hit = this.pick(spec.bans.get(hash), 'bkey');
      if (hit >= 0) {
        return { treatment: 'Blocked', category: 'bkey', rule: spec.text, ruleId: this.rules.rules[hit]!.id, monitored: this.monitored ?? NO_MONITORS };
      }
    }
    return null;
  }

  /** The decision with the hashes of the keys the file asks to report (a copy, only when the request has one). */
  private withReportKeys(d: Decision, keys: RequestKeys, req: MoatRequest): Decision {
    let text = '';
    const specs = keys.specs;
    for (let k = 0; k < specs.length; k++) {
      const spec = specs[k]!;
      if (!spec.reported) continue;
      const hash = this.keyHashOf(k, spec, req);
      if (hash === null) continue;
      // Clients repeat their key: the pair's text is kept from the last request (measured ~0.1 µs a request).
      let pair = this.reportPairs[k];
      if (pair === undefined || this.reportPairHashes[k] !== hash) {
        pair = this.reportPairs[k] = `${spec.text}=${hash}`;
        this.reportPairHashes[k] = hash;
      }
      text = text === '' ? pair : `${text} ${pair}`;
    }
    if (text === '') return d;
    // The plain Passed decision (most requests) as a literal: a spread of it cost several times as much.
    if (d === PASSED) return { treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: NO_MONITORS, reportKeys: text };
    return { ...d, reportKeys: text };
  }

  /** Per key spec: the last reported `<key>=<hash>` text and its hash. */
  private readonly reportPairs: (string | undefined)[] = [];
  private readonly reportPairHashes: (string | undefined)[] = [];

  private decide(treatment: 'Allowed' | 'Blocked', category: Category, i: number): Decision {
    const r = this.rules.rules[i]!;
    return { treatment, category, rule: r.value, ruleId: r.id, monitored: this.monitored ?? NO_MONITORS };
  }

  private checkIp(index: IpRuleIndex, family: 4 | 6, treatment: 'Allowed' | 'Blocked'): Decision | null {
    const set = index.table.lookupParsed(family, this.words);
    if (set < 0) return null;
    const candidates = index.sets[set]!;
    const single = this.rules.singleIp;
    // The category depends on each rule (single address or range), so rules are picked one at a time.
    for (let k = 0; k < candidates.length; k++) {
      const i = candidates[k]!;
      const category: Category = treatment === 'Allowed' ? (single[i] ? 'ai' : 'ac') : single[i] ? 'bi' : 'bc';
      if (this.decides(i, category)) return this.decide(treatment, category, i);
    }
    return null;
  }

  private checkData(data: DataSet, family: 4 | 6): Decision | null {
    const id = data.table.lookupParsed(family, this.words);
    if (id < 0) return null;
    const rs = this.rules;
    // Light mode reads labels from the file on demand (cached); memory mode holds them all.
    const label = labelOf(data, id);
    if (label === undefined) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `the data file's ranges name label ${id}, which it does not have`);
    if (label.country !== null) {
      let hit = this.pick(rs.countries.get(label.country), 'bctry');
      if (hit < 0) {
        const continent = CONTINENT_OF.get(label.country);
        if (continent !== undefined) hit = this.pick(rs.countries.get(`continent:${continent}`), 'bctry');
      }
      if (hit >= 0) return this.decide('Blocked', 'bctry', hit);
    }
    if (label.asn !== null) {
      const hit = this.pick(rs.asns.get(label.asn), 'brep');
      if (hit >= 0) return this.decide('Blocked', 'brep', hit);
    }
    const lists = label.lists;
    for (let k = 0; k < lists.length; k++) {
      const hit = this.pick(rs.lists.get(lists[k]!), 'brep');
      if (hit >= 0) return this.decide('Blocked', 'brep', hit);
    }
    return null;
  }

  private checkSubstring(matcher: SubstringMatcher, text: string, category: Category): Decision | null {
    const hits = matcher.match(text);
    if (hits === null) return null;
    const hit = this.pick(hits, category);
    return hit >= 0 ? this.decide('Blocked', category, hit) : null;
  }

  private checkExact(map: ExactIndex, key: string, category: Category): Decision | null {
    const hit = this.pick(map.get(key), category);
    return hit >= 0 ? this.decide('Blocked', category, hit) : null;
  }

  private checkPaths(matcher: SubstringMatcher, req: MoatRequest): Decision | null {
    let d: Decision | null;
    if (req.path && (d = this.checkSubstring(matcher, req.path, 'bp')) !== null) return d;
    const forms = req.pathForms;
    if (forms === undefined) return null;
    for (let k = 0; k < forms.length; k++) {
      const form = forms[k];
      if (form && (d = this.checkSubstring(matcher, form, 'bp')) !== null) return d;
    }
    return null;
  }

  private checkHosts(map: ExactIndex, req: MoatRequest): Decision | null {
    let d: Decision | null;
    if (req.host && (d = this.checkExact(map, lowerCased(req.host), 'bh')) !== null) return d;
    const forms = req.hostForms;
    if (forms === undefined) return null;
    for (let k = 0; k < forms.length; k++) {
      const form = forms[k];
      if (form && (d = this.checkExact(map, lowerCased(form), 'bh')) !== null) return d;
    }
    return null;
  }

  /** HEAD is judged as GET too: Express and Fastify answer HEAD with the GET handler. */
  private checkMethod(map: ExactIndex, method: string): Decision | null {
    const d = this.checkExact(map, method, 'bm');
    if (d !== null || method !== 'HEAD') return d;
    return this.checkExact(map, 'GET', 'bm');
  }

  /** The methods override middleware may take the request for (engine/method-overrides.ts), each judged as a method. */
  private checkMethodOverrides(map: ExactIndex, req: MoatRequest, method: string): Decision | null {
    const overrides = methodOverrides(req);
    if (overrides === null) return null;
    let d: Decision | null;
    for (const each of overrides) {
      const other = upperCased(each);
      if (other !== method && (d = this.checkMethod(map, other)) !== null) return d;
    }
    return null;
  }

  /**
   * Rate-limit rules that count this request, each once: a path form (exact, or without one trailing
   * slash, since Express routes `/login/` to `/login`; or by prefix) and the method match (HEAD counts
   * for GET rules), not expired. Extra forms only come with unusual paths, so they may allocate.
   */
  private applicableRateLimits(method: string, path: string, forms: readonly string[] | undefined): readonly number[] {
    let candidates = this.rateLimitCandidates(path, NO_RULES);
    if (forms !== undefined) {
      for (let k = 0; k < forms.length; k++) candidates = this.rateLimitCandidates(lowerCased(forms[k]!), candidates);
    }
    // Usually every candidate applies; copy only when one does not.
    const rs = this.rules;
    let applicable: number[] | null = null;
    for (let k = 0; k < candidates.length; k++) {
      const r = rs.rules[candidates[k]!]!;
      const spec = r.kind === 'rateLimit' ? r.rateLimit : null;
      const applies = spec !== null && (r.expires === undefined || r.expires > this.time()) &&
        (spec.method === null || spec.method === method || (method === 'HEAD' && spec.method === 'GET'));
      if (!applies && applicable === null) applicable = candidates.slice(0, k);
      else if (applies && applicable !== null) applicable.push(candidates[k]!);
    }
    return applicable ?? candidates;
  }

  /** `found` plus the rate-limit rules `path` matches that it lacks; `found` itself when none is new. */
  private rateLimitCandidates(path: string, found: readonly number[]): readonly number[] {
    const rs = this.rules;
    const exact = rs.rateLimitsExact.get(path);
    let candidates = found.length === 0 ? exact ?? NO_RULES : withNew(found, exact);
    // `/login/` also counts for `/login`, and `/login` for `/login/` (Express routes each to the other);
    // sliced or extended only when some exact rule has the length of the result. The compiler drops the
    // slash now, but files compiled before (or from a hub's stored rules) may still end a path with one.
    const n = path.length;
    if (n > 1 && path.charCodeAt(n - 1) === 0x2f && this.exactRateLimitLengths.has(n - 1)) {
      candidates = withNew(candidates, rs.rateLimitsExact.get(path.slice(0, n - 1)));
    } else if (path.charCodeAt(n - 1) !== 0x2f && this.exactRateLimitLengths.has(n + 1)) {
      candidates = withNew(candidates, rs.rateLimitsExact.get(`${path}/`));
    }
    const prefix = rs.rateLimitsPrefix;
    for (let k = 0; k < prefix.length; k++) {
      const i = prefix[k]!;
      const r = rs.rules[i]!;
      if (r.kind !== 'rateLimit') continue;
      const p = r.rateLimit.path;
      // `/api/*` also counts `/api` itself, which `app.use('/api')` serves.
      if (!path.startsWith(p) && !(p.length === n + 1 && p.charCodeAt(n) === 0x2f && p.startsWith(path))) continue;
      if (candidates.length === 0) candidates = [i];
      else if (!candidates.includes(i)) candidates = [...candidates, i];
    }
    return candidates;
  }

  /** The same rules checkRateLimits() would count, as hits for a shared store; null when none applies. */
  private pendingRateLimits(family: 4 | 6, method: string, path: string, forms: readonly string[] | undefined, req: MoatRequest): PendingRateLimits | null {
    const rules = this.applicableRateLimits(method, path, forms);
    if (rules.length === 0) return null;
    const ip = this.clientKey(family);
    const hits: RateLimitHit[] = [];
    const indices: number[] = [];
    for (const i of rules) {
      const r = this.rules.rules[i]!;
      if (r.kind !== 'rateLimit') continue;
      const spec = r.rateLimit;
      const key = spec.key;
      const keyed = key === undefined ? null : keyedClient(key, req);
      hits.push({
        rule: r.id, client: keyed ?? ip, by: keyed === null || key === undefined ? 'ip' : key.by, ip,
        limit: spec.limit, windowMs: spec.windowMs, stop: r.mode !== 'monitor',
      });
      indices.push(i);
    }
    return { hits, rules: indices, now: this.time() };
  }

  private checkRateLimits(family: 4 | 6, method: string, path: string, forms: readonly string[] | undefined, req: MoatRequest): Decision | null {
    const rules = this.applicableRateLimits(method, path, forms);
    if (rules.length > 0) this.ruleConsulted = true;
    for (let k = 0; k < rules.length; k++) {
      const r = this.rules.rules[rules[k]!]!;
      if (r.kind !== 'rateLimit') continue;
      const spec = r.rateLimit;
      const ip = this.clientKey(family);
      // A keyed rule counts the key's hash; a request without the key counts by IP, so omitting it never escapes.
      const key = spec.key;
      const keyed = key === undefined ? null : keyedClient(key, req);
      const wait = keyed === null
        ? this.rateLimits.hit(`${r.id}|${ip}`, spec.limit, spec.windowMs, this.time())
        : this.rateLimits.hit(`${r.id}|${keyed}`, spec.limit, spec.windowMs, this.time(), `${r.id}|${ip}`);
      if (wait === 0) continue;
      if (r.mode === 'monitor') {
        (this.monitored ??= []).push({ category: 'brl', rule: r.id, ruleId: r.id });
        continue;
      }
      return {
        treatment: 'Blocked', category: 'brl', rule: r.id, ruleId: r.id, monitored: this.monitored ?? NO_MONITORS,
        retryAfter: Math.ceil(wait / 1000), rateLimitKey: keyed === null || key === undefined ? 'ip' : key.by,
      };
    }
    return null;
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

/** The rule text reports carry for an attack: where, then the redacted snippet (`query.q: ' OR 1=1--`). */
function attackRuleText(m: AttackMatch): string {
  return `${attackWhere(m)}: ${m.snippet}`;
}

/** `list` with the entries of `more` it lacks appended (copied, never mutated); `list` when none is new. */
function withNew(list: readonly number[], more: readonly number[] | undefined): readonly number[] {
  if (more === undefined) return list;
  if (list.length === 0) return more;
  let out: number[] | null = null;
  for (let k = 0; k < more.length; k++) {
    const rule = more[k]!;
    if (!(out ?? list).includes(rule)) (out ??= [...list]).push(rule);
  }
  return out ?? list;
}
