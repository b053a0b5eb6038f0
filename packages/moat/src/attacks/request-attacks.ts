/**
 * Attack detection over one request, as the engine calls it: the settings compiled once per rules file
 * into bit sets (AttackPolicy), then every input the app may act on is read once — the raw path, each
 * query parameter, each form or JSON body field, User-Agent, Referer, each cookie, the headers that
 * carry a client's address and the headers the settings name — each under its own name (`query.q`,
 * `body.comment`, `json.user.name`, `header.user-agent`, `header.x-forwarded-for`, `cookie.session`).
 *
 * Inputs come from the request the engine already has (the raw target, the headers, the peeked body);
 * a parameter is decoded once the way the app's parser will (form `+`, percent escapes), and
 * detectAttack() looks through any further encoding layers itself.
 */
import { percentDecode } from '../http/percent-decode.js';
import { pathStartOf, pathUpToQuery, splitTarget } from '../http/request-target.js';
import type { AttackExclusion, AttackSettings } from '../rules/attack-settings.js';
import { FormValueDecoder } from './decode/form-value.js';
import { detectAttack, neededFeatures } from './detect-attack.js';
import { rawPartFeatures } from './features.js';
import { RAW_FIELD_FROM, UNKNOWN_BODY, bodyScanSieve, bodyScanTables, rawBodyHints, rawFieldIsClean, rawFieldIsCleanMarked } from './raw-form-field.js';
import { sharedByteScanner, type ByteScanner } from './byte-scan/byte-scanner.js';
import { operatorParameter } from './nosql/detect-nosql.js';
import { refererWithoutLoopbackOrigin } from './ssrf/detect-ssrf.js';
import { bareInternalHost, isHostParameter, mayBeBareHost } from './ssrf/host-parameter.js';
import { redactedSnippet } from './snippet.js';
import { DEFAULT_JSON_LIMITS, completeJsonLimits, detectInJson, jsonIsAscii, type JsonWalkLimits } from './detect-json.js';
import { ALL_ATTACK_CATEGORIES, ATTACK_CATEGORIES, B_SSRF, attackCategorySet, type AttackCategorySet, type AttackLocation, type AttackMatch } from './types.js';
import { workSteps } from './work-counter.js';
import { RecentValues } from '../text/recent-values.js';

/**
 * Characters examined per request at most (counted by the work counter, decoded views included). A
 * request beyond it is not examined further: it passes (as a body too large to peek does) and the
 * outcome says `cut`, which the engine records as an `attack-cut` monitor match — visible in reports.
 * 4 Mi characters is 16 × a 256 KiB body, far above what a real request carries.
 */
export const MAX_WORK_PER_REQUEST = 4 * 1024 * 1024;

interface CompiledExclusion {
  exact: string | null;
  prefix: string | null;
  /** Categories still checked under this exclusion's inputs (all minus the excluded ones). */
  keep: AttackCategorySet;
  /** Locations it covers (`body`, `query.q`); empty = every input. */
  params: readonly string[];
}

/** The settings as the request path reads them: built once per rules file. */
export interface AttackPolicy {
  settings: AttackSettings;
  block: AttackCategorySet;
  monitor: AttackCategorySet;
  exclusions: readonly CompiledExclusion[];
  /** Feature bits any enabled category needs (neededFeatures): a raw parameter without them is clean undecoded. */
  triggers: number;
  /** SSRF is on: parameters named for a host are read for a bare internal host (ssrf/host-parameter.ts). */
  hosts: boolean;
  /** The settings' extra headers (lower-case names), judged for every category after the built-in ones. */
  headers: readonly string[];
}

export function compileAttackPolicy(settings: AttackSettings | null): AttackPolicy | null {
  if (settings === null) return null;
  let block = 0;
  let monitor = 0;
  ATTACK_CATEGORIES.forEach((c, i) => {
    if (settings.modes[c] === 'block') block |= 1 << i;
    else if (settings.modes[c] === 'monitor') monitor |= 1 << i;
  });
  if ((block | monitor) === 0) return null;
  return {
    settings, block, monitor, exclusions: settings.exclusions.map(compileExclusion), triggers: neededFeatures(block | monitor),
    hosts: ((block | monitor) & B_SSRF) !== 0, headers: settings.headers,
  };
}

function compileExclusion(e: AttackExclusion): CompiledExclusion {
  const star = e.path.endsWith('*');
  const dropped = e.categories.length === 0 ? ALL_ATTACK_CATEGORIES : attackCategorySet(e.categories);
  return { exact: star ? null : e.path, prefix: star ? e.path.slice(0, -1) : null, keep: ALL_ATTACK_CATEGORIES & ~dropped, params: e.params };
}

/** What a request's inputs hold, for the engine to turn into a decision. */
export interface RequestAttacks {
  /** The first match of a block-mode category, or null. */
  block: AttackMatch | null;
  /** Matches of monitor-mode categories (one per category), or null. */
  monitor: AttackMatch[] | null;
  /** True when the work cap stopped the examination before every input was read. */
  cut: boolean;
}

export interface AttackInputs {
  path?: string;
  url?: string;
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** `bytes`: the form body's bytes when the caller holds them (`text` is their latin1). */
  body?: { kind: 'form' | 'json'; text: string; bytes?: Uint8Array };
}

/** One request's scan; reused by the engine (evaluation is synchronous), so a clean request allocates nothing here. */
export class RequestAttackScan implements RequestAttacks {
  block: AttackMatch | null = null;
  monitor: AttackMatch[] | null = null;
  cut = false;
  private policy!: AttackPolicy;
  /**
   * Values found clean a moment ago, per location, with the category set they were checked for. Paths,
   * user agents, referers, cookies and common parameters repeat from request to request, and a few
   * detectors cost microseconds on ordinary values (a User-Agent's `(`, `;` and `/`; a path's sensitive-file
   * check): measured 29 µs → see bench/attacks-bench.ts "engine: clean request". A collision recomputes.
   */
  private readonly clean: Record<AttackLocation, RecentValues<AttackCategorySet>> = {
    path: new RecentValues(256, 1024), query: new RecentValues(1024, 1024), body: new RecentValues(256, 1024),
    json: new RecentValues(16, 1024), header: new RecentValues(256, 1024), cookie: new RecentValues(256, 1024),
  };
  /**
   * Request targets (path and query, raw) found clean a moment ago, with the category set: most requests
   * repeat a target, and one lookup then stands for the path's and every query part's reading. Only
   * without exclusions, under which every input is checked for the same categories.
   */
  private cleanTargets = new RecentValues<AttackCategorySet>(TARGET_SLOTS, 1024);
  private memoPolicy: AttackPolicy | null = null;
  private readonly formValues = new FormValueDecoder();
  /** rawBodyHints() of the form body being read. */
  private bodyHints = UNKNOWN_BODY;
  /**
   * The byte scan of the form body being read (see readFormBody): the scanner holding its records (null:
   * not scanned, fields are searched), how many, for which categories, and the first record not yet
   * behind the field read.
   */
  private markedBy: ByteScanner | null = null;
  private marked = 0;
  private markedFor: AttackCategorySet = 0;
  private markCursor = 0;
  /** The first record not wholly behind the part pairs() splits next (nextMarkedAmpersand). */
  private ampersandCursor = 0;
  /** Whether every string of the JSON body being walked is ASCII (jsonIsAscii). */
  private jsonAscii = false;
  /** The walk limits of the body being read: all of it (completeJsonLimits). */
  private jsonLimits: JsonWalkLimits = DEFAULT_JSON_LIMITS;
  /** Exclusions whose path matches this request; usually none. */
  private excluded: CompiledExclusion[] | null = null;
  private workStart = 0;

  /**
   * `byteScanner`: the SIMD byte scan for long form bodies (by default the thread's, made at the first
   * long form body), or null to search each field natively: what runs when WebAssembly is unavailable,
   * and what tests pass to check that path.
   */
  constructor(private byteScanner?: ByteScanner | null) {}

  /** Reads every input; stops at the first block-mode match. */
  run(policy: AttackPolicy, req: AttackInputs): this {
    this.policy = policy;
    if (this.memoPolicy !== policy) this.forget(policy);
    this.block = null;
    this.monitor = null;
    this.cut = false;
    this.excluded = policy.exclusions.length === 0 ? null : applicableExclusions(policy.exclusions, (req.path ?? '/').toLowerCase());
    this.workStart = workSteps();
    const url = req.url ?? req.path ?? '/';
    const enabled = policy.block | policy.monitor;
    if (this.excluded !== null || this.cleanTargets.get(url) !== enabled) {
      if (this.target(url)) return this;
      // Nothing matched in the target, not even in monitor mode.
      if (this.excluded === null && this.monitor === null) this.cleanTargets.set(url, enabled);
    }
    const body = req.body;
    if (body !== undefined) {
      if (body.kind === 'form') {
        this.readFormBody(body.text, body.bytes, enabled);
        const over = this.pairs(body.text, 0, body.text.length, 'body');
        this.markedBy = null;
        if (over) return this;
      } else if (this.json(body.text)) return this;
    }
    const headers = req.headers;
    if (headers !== undefined) {
      if (this.header(headers['user-agent'], 'user-agent')) return this;
      // A Referer from a page on the user's own machine (a development front end): its origin is no target.
      const referer = headers.referer;
      if (this.header(typeof referer === 'string' ? refererWithoutLoopbackOrigin(referer) : referer, 'referer')) return this;
      const cookie = headers.cookie;
      if (typeof cookie === 'string' && this.cookies(cookie)) return this;
      // Read by name, not in a loop over the names: a keyed read of a header object cost ~40 ns each (bench).
      const forwardedFor = headers['x-forwarded-for'];
      const realIp = headers['x-real-ip'];
      const trueClientIp = headers['true-client-ip'];
      const forwarded = headers.forwarded;
      if (forwardedFor !== undefined || realIp !== undefined || trueClientIp !== undefined || forwarded !== undefined) {
        if (this.header(forwardedFor, 'x-forwarded-for', NOT_SSRF) || this.header(realIp, 'x-real-ip', NOT_SSRF)) return this;
        if (this.header(trueClientIp, 'true-client-ip', NOT_SSRF) || this.header(forwarded, 'forwarded', NOT_SSRF)) return this;
      }
      const named = policy.headers;
      for (let i = 0; i < named.length; i++) {
        const name = named[i]!;
        if (this.namedHeader(headers[name], name)) return this;
      }
    }
    return this;
  }

  /** The request target: the raw path, then each query parameter; true when the scan is over. */
  private target(url: string): boolean {
    let rawPath: string;
    // The query is read in place (`url` from `queryFrom` to `queryTo`), not sliced out of the target.
    let query = url;
    let queryFrom = 0;
    let queryTo = 0;
    if (url.charCodeAt(0) === 0x2f && url.indexOf('#') < 0) {
      // The common target: relative, without a `#` (browsers never send one).
      const q = url.indexOf('?');
      rawPath = q < 0 ? url : url.slice(0, q);
      if (q >= 0) {
        queryFrom = q + 1;
        queryTo = url.length;
      }
    } else {
      // Absolute form (`http://host/x`, and every Web Request's url), where the scheme and host are not
      // input to judge, or a `#`: every reader's query (splitTarget) and the path up to `?`, `#` and all.
      const target = splitTarget(url);
      rawPath = pathUpToQuery(url, pathStartOf(url));
      query = target.query;
      queryTo = query.length;
    }
    // The raw path, so `..` segments and encodings are seen before any normalisation removed them.
    if (this.value(rawPath, 'path', '')) return true;
    if ((rawPath.includes('%') || rawPath.includes(';') || rawPath.includes('(')) && this.pathSegments(rawPath)) return true;
    return queryTo > queryFrom && this.pairs(query, queryFrom, queryTo, 'query');
  }

  /**
   * Each path segment holding a percent escape, `;` or `(`, as a value of its own: routers decode a segment
   * (`%2F` included) into a parameter (`/files/:name`) that the app joins to a folder or puts in a query.
   * Read as one path, the route's own names (`/api/files/`) cancel the `..` of `..%2F..%2Fsecret`, and
   * `/users/1%20UNION%20SELECT…` or `/users/1;SELECT(SLEEP(5))` starts with `/`, never a number (SQL's
   * numeric context is read from a value's start). The raw segment goes to detectAttack, which decodes it
   * as the router does and sees that its slashes needed decoding. Any other segment is plain text whose
   * reading does not depend on where it starts (`..` and quotes are read in the whole path), and without
   * a space a numeric slot is continued only by `;` or `(`: a clean path costs three searches.
   * No cap on the count: segments never overlap, so they add up to the path once more (value() keeps the
   * request's work cap), and a cap would let 32 harmless segments carry the payload past it.
   */
  private pathSegments(rawPath: string): boolean {
    const n = rawPath.length;
    for (let from = 0; from < n; ) {
      let to = rawPath.indexOf('/', from);
      if (to < 0) to = n;
      if (to - from >= 2 && readOnItsOwn(rawPath, from, to) && this.value(rawPath.slice(from, to), 'path', '')) return true;
      from = to + 1;
    }
    return false;
  }

  /**
   * Prepares the raw reading of a form body's long fields (raw-form-field.ts), worth it only when some
   * field may be judged raw: an ASCII body is scanned once for the bytes that matter (SIMD), and the marks
   * no field reading needs are sifted out (form-sieve.ts: on prose ~1,000 per 64 KiB down to one or two
   * per field), else each character is searched for once in the body (rawBodyHints) and again in each
   * field that may hold it.
   */
  private readFormBody(text: string, bytes: Uint8Array | undefined, enabled: AttackCategorySet): void {
    this.markedBy = null;
    this.bodyHints = UNKNOWN_BODY;
    if (text.length <= RAW_FIELD_FROM) return;
    if (this.byteScanner === undefined) this.byteScanner = sharedByteScanner();
    // The scan refuses a non-ASCII text (NOT_ASCII), which is then searched as below.
    if (this.byteScanner !== null) {
      const records = this.byteScanner.scanForm(text, bodyScanTables(enabled), bodyScanSieve(enabled), bytes);
      if (records >= 0) {
        this.markedBy = this.byteScanner;
        this.marked = records;
        this.markedFor = enabled;
        this.markCursor = 0;
        this.ampersandCursor = 0;
        return;
      }
    }
    this.bodyHints = rawBodyHints(text, enabled);
  }

  /**
   * Examines one input; true when the scan is over (a block-mode match, or the work cap). `ascii`: `text`
   * is known to be all ASCII (a hint for detectAttack); `only`: the categories this input is read for at most.
   */
  private value(text: string, location: AttackLocation, field: string, ascii = false, only = ALL_ATTACK_CATEGORIES): boolean {
    if (text.length < 2) return false;
    if (workSteps() - this.workStart > MAX_WORK_PER_REQUEST) {
      this.cut = true;
      return true;
    }
    const block = this.blockFor(location, field) & only;
    const enabled = block | (this.monitorFor(location, field) & only);
    if (enabled === 0) return false;
    const memo = this.clean[location];
    if (memo.get(text) === enabled) return false;
    const hit = detectAttack(text, location, enabled, ascii);
    if (hit === null) {
      memo.set(text, enabled);
      return false;
    }
    if (field !== '') hit.field = field;
    return this.found(hit, text, location, field, block);
  }

  /** Block-mode categories checked on this input (its exclusions applied). */
  private blockFor(location: AttackLocation, field: string): AttackCategorySet {
    return this.excluded === null ? this.policy.block : this.policy.block & this.kept(location, field);
  }

  /** Monitor-mode categories checked on this input: its exclusions applied, and none already matched in this request. */
  private monitorFor(location: AttackLocation, field: string): AttackCategorySet {
    let monitor = this.excluded === null ? this.policy.monitor : this.policy.monitor & this.kept(location, field);
    if (this.monitor !== null) monitor &= ~this.monitoredSet();
    return monitor;
  }

  /** Records a match; a monitor-mode one still leaves the value to be read for block-mode categories. */
  private found(hit: AttackMatch, text: string | null, location: AttackLocation, field: string, block: AttackCategorySet): boolean {
    const bit = 1 << ATTACK_CATEGORIES.indexOf(hit.category);
    if (block & bit) {
      this.block = hit;
      return true;
    }
    (this.monitor ??= []).push(hit);
    const rest = block & ~bit;
    if (rest === 0 || text === null) return false;
    const again = detectAttack(text, location, rest);
    if (again === null) return false;
    if (field !== '') again.field = field;
    this.block = again;
    return true;
  }

  /** Clean verdicts belong to one policy's categories; a new one starts afresh. */
  private forget(policy: AttackPolicy): void {
    for (const key of Object.keys(this.clean) as AttackLocation[]) this.clean[key] = new RecentValues(key === 'query' ? 1024 : key === 'json' ? 16 : 256, 1024);
    this.cleanTargets = new RecentValues(TARGET_SLOTS, 1024);
    this.memoPolicy = policy;
  }

  private monitoredSet(): AttackCategorySet {
    let set = 0;
    for (const m of this.monitor!) set |= 1 << ATTACK_CATEGORIES.indexOf(m.category);
    return set;
  }

  /** Categories still checked for this input under the request's exclusions. */
  private kept(location: AttackLocation, field: string): AttackCategorySet {
    let keep = ALL_ATTACK_CATEGORIES;
    const where = (field === '' ? location : `${location}.${field}`).toLowerCase();
    for (const e of this.excluded!) {
      if (e.params.length === 0 || e.params.some((p) => where === p || where.startsWith(`${p}.`))) keep &= e.keep;
    }
    return keep;
  }

  /** `a=1&b=2` (query or form body, `raw` from `from` to `to`): each name and value decoded once, as the app's parser does. */
  private pairs(raw: string, from: number, to: number, location: 'query' | 'body'): boolean {
    let start = from;
    const n = to;
    // Without exclusions every part is checked for the same categories, so a short part whose raw text
    // proves it clean (rawPartFeatures: no trigger, nothing to decode) is skipped before it is sliced,
    // decoded or looked up in the memo — the common query parameter costs one short loop.
    const triggers = this.excluded === null ? this.policy.triggers : -1;
    // A scanned form body's `&` are among its marks (form-sieve.ts keeps them): found there, not searched again.
    const scanner = location === 'body' ? this.markedBy : null;
    // The next `=` is kept, not searched for at every part: parts without one (`a&a&a…`) each searched
    // the rest of the body (a 64 KiB body of them took ~10 ms).
    let eq = -2;
    while (start <= n) {
      let end = scanner !== null ? this.nextMarkedAmpersand(scanner, raw, start) : raw.indexOf('&', start);
      if (end < 0 || end > n) end = n;
      if (end > start) {
        if (eq !== -1 && eq < start) eq = raw.indexOf('=', start);
        const hasValue = eq >= 0 && eq < end;
        const nameEnd = hasValue ? eq : end;
        const nameClean = triggers >= 0 && cleanPart(raw, start, nameEnd, triggers);
        if (!nameClean || (hasValue && !cleanPart(raw, eq + 1, end, triggers))) {
          if (this.pair(raw, start, nameEnd, hasValue ? end : -1, location, nameClean)) return true;
        } else if (hasValue && this.policy.hosts && mayBeBareHost(raw, eq + 1, end)) {
          // A clean value is plain text: no decoding needed (only `+`, which no host holds).
          if (this.hostValue(raw.slice(start, nameEnd), raw.slice(eq + 1, end), location)) return true;
        }
      }
      start = end + 1;
    }
    return false;
  }

  /** The first `&` of the scanned body `raw` at or after `from`, from the marks (every `&` is marked), or -1. */
  private nextMarkedAmpersand(scanner: ByteScanner, raw: string, from: number): number {
    const marks = scanner.marks;
    for (let k = this.ampersandCursor; k < this.marked; k++) {
      const step = marks[2 * k]!;
      if (step + 32 <= from) {
        this.ampersandCursor = k + 1;
        continue;
      }
      for (let bits = marks[2 * k + 1]!; bits !== 0; bits &= bits - 1) {
        const at = step + 31 - Math.clz32(bits & -bits);
        if (at >= from && raw.charCodeAt(at) === 0x26) return at;
      }
    }
    return -1;
  }

  /**
   * One `name=value` part (`valueEnd` -1: no value), decoded and examined; `nameClean`: pairs() proved the
   * name clean from its raw text (cleanPart), so it is not examined again (the long fields of a form body
   * each paid a memo lookup for a name like `comment`).
   */
  private pair(raw: string, start: number, nameEnd: number, valueEnd: number, location: 'query' | 'body', nameClean: boolean): boolean {
    const name = percentDecode(raw.slice(start, nameEnd), true);
    // Names are attacker text too: qs turns `user[$ne]=1` into an operator, `__proto__[x]` into pollution,
    // and a name that is an operator itself (`$where=…`) into a top-level one, which no value shows.
    if (!nameClean && (this.value(name, location, name) || this.operatorName(name, location))) return true;
    if (valueEnd >= 0) {
      // A long field whose raw text proves it clean is never decoded (raw-form-field.ts): decoding was
      // most of a 64 KiB form body's cost. Counted as work like the decoded value would be. Read from the
      // marks, it is not even sliced out of the body.
      if (valueEnd - nameEnd > RAW_FIELD_FROM && workSteps() - this.workStart <= MAX_WORK_PER_REQUEST) {
        const enabled = this.blockFor(location, name) | this.monitorFor(location, name);
        if (enabled === 0) return false;
        // The marks serve any field checked for the scanned categories or fewer (exclusions and monitor matches only remove some).
        const scanner = this.markedBy;
        if (location === 'body' && scanner !== null && (enabled & ~this.markedFor) === 0) {
          // Read here, not kept from the scan: a scan that grew the memory made a new view.
          const marks = scanner.marks;
          let k = this.markCursor;
          // Steps of 32 bytes wholly before the value are behind every later field too.
          while (k < this.marked && marks[2 * k]! + 32 <= nameEnd) k++;
          this.markCursor = k;
          if (rawFieldIsCleanMarked(raw, nameEnd + 1, valueEnd, enabled, scanner, k, this.marked)) return false;
        } else if (rawFieldIsClean(raw.slice(nameEnd + 1, valueEnd), enabled, location === 'body' ? this.bodyHints : UNKNOWN_BODY)) return false;
      }
      const rawValue = raw.slice(nameEnd + 1, valueEnd);
      const value = this.formValues.decode(rawValue);
      if (this.value(value, location, name, this.formValues.ascii)) return true;
      if (this.policy.hosts && mayBeBareHost(value, 0, value.length) && this.hostValue(name, value, location)) return true;
      // Invalid UTF-8 (overlong `%c0%ae` dots) decodes to U+FFFD here, but some decoders map it to
      // the character it spells: the raw text goes to detectAttack, whose decoder knows those forms.
      if (value !== rawValue && !this.formValues.ascii && value.includes('\uFFFD') && this.value(rawValue, location, name)) return true;
    }
    return false;
  }

  /** A bare internal host in a parameter named for a host (ssrf/host-parameter.ts), judged as SSRF. */
  private hostValue(name: string, value: string, location: 'query' | 'body'): boolean {
    const block = this.blockFor(location, name) & B_SSRF;
    if ((block | (this.monitorFor(location, name) & B_SSRF)) === 0 || !isHostParameter(name)) return false;
    const hit = bareInternalHost(value);
    if (hit === null) return false;
    return this.found({ category: 'ssrf', location, field: name, snippet: redactedSnippet(value, hit.at), reason: hit.reason }, null, location, name, block);
  }

  /** A parameter named as a query operator (operatorParameter), judged under the input's categories. */
  private operatorName(name: string, location: 'query' | 'body'): boolean {
    if (name.charCodeAt(0) !== 0x24) return false;
    const block = this.blockFor(location, name);
    const hit = operatorParameter(name, location, block | this.monitorFor(location, name));
    return hit !== null && this.found(hit, null, location, name, block);
  }

  private json(text: string): boolean {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // Not JSON (or cut at the peek limit): read as one text value, as the substring rules do.
      return this.value(text, 'json', '');
    }
    this.jsonAscii = jsonIsAscii(text);
    this.jsonLimits = completeJsonLimits(text);
    // Long values are cleared by the byte scan (long-json-value.ts); it overwrites the marks of a form body.
    this.markedBy = null;
    if (this.byteScanner === undefined && text.length > RAW_FIELD_FROM) this.byteScanner = sharedByteScanner();
    const p = this.policy;
    // Exclusions name JSON fields; with any in force the walk goes value by value through value().
    if (this.excluded !== null) return this.jsonByField(doc);
    let enabled = p.block | p.monitor;
    for (;;) {
      if (enabled === 0) return false;
      const hit = detectInJson(doc, enabled, 'json', this.jsonLimits, this.jsonAscii, this.byteScanner ?? null);
      if (hit === null) return false;
      if (this.found(hit, null, 'json', hit.field ?? '', p.block)) return true;
      enabled &= ~(1 << ATTACK_CATEGORIES.indexOf(hit.category));
    }
  }

  /** The JSON walk one top-level field at a time, so exclusions by field apply (`json.content`). */
  private jsonByField(doc: unknown): boolean {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return this.jsonPart(doc, '');
    for (const key of Object.keys(doc)) {
      if (this.jsonPart({ [key]: (doc as Record<string, unknown>)[key] }, key)) return true;
    }
    return false;
  }

  private jsonPart(part: unknown, field: string): boolean {
    const p = this.policy;
    const keep = this.kept('json', field);
    let enabled = (p.block | p.monitor) & keep;
    for (;;) {
      if (enabled === 0) return false;
      const hit = detectInJson(part, enabled, 'json', this.jsonLimits, this.jsonAscii, this.byteScanner ?? null);
      if (hit === null) return false;
      if (this.found(hit, null, 'json', hit.field ?? field, p.block & keep)) return true;
      enabled &= ~(1 << ATTACK_CATEGORIES.indexOf(hit.category));
    }
  }

  private header(value: string | string[] | undefined, name: string, only = ALL_ATTACK_CATEGORIES): boolean {
    return typeof value === 'string' && this.value(value, 'header', name, false, only);
  }

  /**
   * A header the settings name: every category, and each value of a header a framework hands over as a
   * list. Anything else is no header: Node's header object has a prototype, so `constructor` not sent
   * reads as a function.
   */
  private namedHeader(value: unknown, name: string): boolean {
    if (typeof value === 'string') return this.value(value, 'header', name);
    if (!Array.isArray(value)) return false;
    for (const one of value) if (typeof one === 'string' && this.value(one, 'header', name)) return true;
    return false;
  }

  private cookies(header: string): boolean {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      const name = (eq < 0 ? part : part.slice(0, eq)).trim();
      if (eq >= 0 && this.value(part.slice(eq + 1).trim(), 'cookie', name)) return true;
    }
    return false;
  }
}

/**
 * For the headers that carry a client's address (X-Forwarded-For, X-Real-IP, True-Client-IP, Forwarded), which apps log and store (`INSERT … VALUES ('${ip}')`) and which
 * a proxy passes on as the client wrote it. Read for every category but SSRF: a loopback or private
 * address there is a proxy's own, not a target the app fetches.
 */
const NOT_SSRF: AttackCategorySet = ALL_ATTACK_CATEGORIES & ~attackCategorySet(['ssrf']);

/**
 * Whether `headers` holds a header the scan reads that the memo of quiet requests does not key on: one
 * of the address headers, or one of the settings' `named` headers.
 */
export function carriesUnkeyedHeader(headers: AttackInputs['headers'], named: readonly string[]): boolean {
  if (headers === undefined) return false;
  if (headers['x-forwarded-for'] !== undefined || headers['x-real-ip'] !== undefined || headers['true-client-ip'] !== undefined ||
    headers.forwarded !== undefined) return true;
  for (let i = 0; i < named.length; i++) {
    const value: unknown = headers[named[i]!];
    if (typeof value === 'string' || Array.isArray(value)) return true;
  }
  return false;
}

/** Request targets remembered clean (see RequestAttackScan.cleanTargets). */
const TARGET_SLOTS = 256;

/** Up to this many characters a raw part is checked by a JavaScript loop; longer ones are sliced and scanned natively. */
const RAW_PART_MAX = 192;

/** Whether `raw[from, to)` is proved clean without decoding: short, nothing to decode, no trigger. */
function cleanPart(raw: string, from: number, to: number, triggers: number): boolean {
  if (to - from < 2) return true;
  if (to - from > RAW_PART_MAX) return false;
  const bits = rawPartFeatures(raw, from, to);
  return bits >= 0 && (bits & triggers) === 0;
}

function applicableExclusions(all: readonly CompiledExclusion[], path: string): CompiledExclusion[] | null {
  let out: CompiledExclusion[] | null = null;
  for (const e of all) {
    const applies = e.exact !== null
      ? path === e.exact || path === `${e.exact}/`
      : path.startsWith(e.prefix!) || `${path}/` === e.prefix;
    if (applies) (out ??= []).push(e);
  }
  return out;
}

/** Whether the path segment `path[from, to)` holds `%`, `;` or `(` (RequestAttackScan.pathSegments). */
function readOnItsOwn(path: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 || c === 0x3b || c === 0x28) return true;
  }
  return false;
}
