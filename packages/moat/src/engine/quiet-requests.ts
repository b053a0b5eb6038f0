/**
 * Requests that weighed no rule at all, remembered whole. When a request meets no rule in any stage (no
 * candidate for its IP, user agent, path, parameters, host or method; no rate limit counting it; no clock
 * read), its Passed decision depends only on those fields and the engine's files, which never change (a new
 * file makes a new engine), so the same request again is answered from here without running the stages.
 * What it saves is memory touched rather than work: in a busy server each stage's memo and index is a
 * cache miss of its own (docs/performance.md). Engines with bot rules do not use it (bot checks read more
 * than the key). With attack detection on, the key also holds what detection reads besides: the raw target,
 * and the User-Agent, Referer and Cookie headers as sent; a request with a body, with a header that
 * carries a client's address (also read by detection, and different behind each proxy) or with one of
 * the headers the attack settings name, is never remembered.
 *
 * A miss costs a lookup and a store (~35 ns, ~100 ns with detection's longer key). Traffic that seldom
 * repeats would pay that on nearly every request, so the memo watches its own hit rate and rests (is not
 * consulted) while too few lookups hit to repay the misses, trying again one window in sixteen.
 */
import type { MoatRequest } from './decision.js';
import { tagOf } from '../text/recent-values.js';
import { carriesUnkeyedHeader } from '../attacks/request-attacks.js';

const SLOTS = 128;
/** Requests whose key strings are longer in total are not remembered: 128 slots hold at most ~256 KiB. */
const MAX_KEY_LENGTH = 1024;
/** Lookups per window of the hit-rate count. */
export const QUIET_WINDOW = 4096;
/**
 * Below one hit in five lookups the memo costs more than it saves (a hit saves a judgement of 100–600 ns,
 * a miss adds 35–100 ns): it rests for fifteen windows of requests, then counts a window again.
 */
const MIN_HITS = QUIET_WINDOW / 5;
export const QUIET_REST = 15 * QUIET_WINDOW;

export class QuietRequests {
  private readonly tags = new Int32Array(SLOTS);
  // One column per field rather than an object per slot: a miss stores into arrays that already exist.
  private readonly ips = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly methods = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly hosts = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly hostForms = new Array<readonly string[] | undefined>(SLOTS).fill(undefined);
  private readonly paths = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly pathForms = new Array<readonly string[] | undefined>(SLOTS).fill(undefined);
  private readonly params = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly userAgents = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly urls = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly userAgentHeaders = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly referers = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly cookies = new Array<string | undefined>(SLOTS).fill(undefined);

  private lookups = 0;
  private hits = 0;
  /** Requests left to judge without the memo, while it rests. */
  private rest = 0;

  private readonly attackInputs: boolean;
  private readonly namedHeaders: readonly string[];

  /**
   * `attackHeaders`: null when the engine detects no attacks; else the settings' extra header names, and
   * the key holds detection's inputs too.
   */
  constructor(attackHeaders: readonly string[] | null = null) {
    this.attackInputs = attackHeaders !== null;
    this.namedHeaders = attackHeaders ?? [];
  }

  /** Whether the memo rests for this request (counts it): the request is judged without `has` or `add`. */
  resting(): boolean {
    if (this.rest === 0) return false;
    this.rest--;
    return true;
  }

  /** The last path tagged, and its tag: a repeated target's path is the same string (the normaliser's memo). */
  private lastPath = '';
  private lastPathTag = 0;

  /**
   * The request's tag, for `has` and `add`: computed once per request. It only picks a slot and turns most
   * misses away before the comparison of every field, so it reads few characters: the path's full sampled
   * tag (kept for the same path string again), the user agent's and the IP's length and three characters.
   */
  tag(req: MoatRequest): number {
    const path = req.path ?? '';
    if (path !== this.lastPath) {
      this.lastPath = path;
      this.lastPathTag = tagOf(path);
    }
    const h = Math.imul(this.lastPathTag, 31) ^ Math.imul(shortTag(req.userAgent ?? ''), 17) ^ shortTag(req.ip);
    return h ^ (h >>> 13);
  }

  /** Whether this request (every field the stages read) was remembered as quiet. */
  has(req: MoatRequest, tag: number): boolean {
    if (++this.lookups === QUIET_WINDOW) {
      if (this.hits < MIN_HITS) this.rest = QUIET_REST;
      this.lookups = 0;
      this.hits = 0;
    }
    const slot = tag & (SLOTS - 1);
    if (this.tags[slot] !== tag) return false;
    // The form arrays are compared by identity: the normaliser shares them per target, and a new array
    // (an absolute-form target's Host header) only costs a miss.
    if (this.ips[slot] !== req.ip || this.paths[slot] !== req.path || this.userAgents[slot] !== req.userAgent ||
      this.hosts[slot] !== req.host || this.methods[slot] !== req.method || this.params[slot] !== req.params ||
      this.pathForms[slot] !== req.pathForms || this.hostForms[slot] !== req.hostForms) return false;
    if (this.attackInputs) {
      // A header sent twice is a list, never equal to a remembered string: judged afresh.
      const headers = req.headers;
      if (req.body !== undefined || this.urls[slot] !== req.url || this.userAgentHeaders[slot] !== headers?.['user-agent'] ||
        this.referers[slot] !== headers?.referer || this.cookies[slot] !== headers?.cookie || carriesUnkeyedHeader(headers, this.namedHeaders)) return false;
    }
    this.hits++;
    return true;
  }

  add(req: MoatRequest, tag: number): void {
    let length = req.ip.length + (req.path?.length ?? 0) + (req.userAgent?.length ?? 0) + (req.params?.length ?? 0) + (req.host?.length ?? 0);
    const slot = tag & (SLOTS - 1);
    if (this.attackInputs) {
      const headers = req.headers;
      if (req.body !== undefined || carriesUnkeyedHeader(headers, this.namedHeaders)) return;
      const ua = headers?.['user-agent'];
      const ref = headers?.referer;
      const cookies = headers?.cookie;
      if (typeof ua === 'object' || typeof ref === 'object' || typeof cookies === 'object') return;
      length += (req.url?.length ?? 0) + (ua?.length ?? 0) + (ref?.length ?? 0) + (cookies?.length ?? 0);
      // Every check before the first store: a slot never holds fields of two requests.
      if (length > MAX_KEY_LENGTH) return;
      this.urls[slot] = req.url;
      this.userAgentHeaders[slot] = ua;
      this.referers[slot] = ref;
      this.cookies[slot] = cookies;
    } else if (length > MAX_KEY_LENGTH) return;
    this.tags[slot] = tag;
    this.ips[slot] = req.ip;
    this.methods[slot] = req.method;
    this.hosts[slot] = req.host;
    this.hostForms[slot] = req.hostForms;
    this.paths[slot] = req.path;
    this.pathForms[slot] = req.pathForms;
    this.params[slot] = req.params;
    this.userAgents[slot] = req.userAgent;
  }
}

/**
 * Length, last two and middle code units: user agents that differ mostly differ in length or in a version
 * at the end, addresses in their last digits. Each charCodeAt costs ~25 instructions on a header string.
 */
function shortTag(value: string): number {
  const n = value.length;
  if (n === 0) return 0;
  const h = Math.imul(n, 31) + value.charCodeAt(n - 1);
  return Math.imul(Math.imul(h, 31) + value.charCodeAt(n >> 1), 31) + value.charCodeAt(n < 2 ? 0 : n - 2);
}
