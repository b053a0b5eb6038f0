/**
 * Requests that weighed no rule at all, remembered whole. When a request meets no rule in any stage (no
 * candidate for its IP, user agent, path, parameters, host or method; no rate limit counting it; no clock
 * read), its Passed decision depends only on those fields and the engine's files, which never change (a new
 * file makes a new engine), so the same request again is answered from here without running the stages.
 * What it saves is memory touched rather than work: in a busy server each stage's memo and index is a
 * cache miss of its own (docs/performance.md). Engines with bot rules do not use it (bot checks read more
 * than the key). With attack detection on, the key also holds what detection reads besides: the raw target,
 * and the User-Agent, Referer and Cookie headers as sent; a request with a body is never remembered.
 */
import type { MoatRequest } from './decision.js';
import { tagOf } from '../text/recent-values.js';

const SLOTS = 128;
/** Requests whose key strings are longer in total are not remembered: 128 slots hold at most ~256 KiB. */
const MAX_KEY_LENGTH = 1024;

interface QuietRequest {
  ip: string;
  method: string | undefined;
  host: string | undefined;
  hostForms: readonly string[] | undefined;
  path: string | undefined;
  pathForms: readonly string[] | undefined;
  params: string | undefined;
  userAgent: string | undefined;
  /** Attack detection's own inputs (undefined when it is off): the raw target and three headers as sent. */
  url: string | undefined;
  userAgentHeader: string | undefined;
  referer: string | undefined;
  cookie: string | undefined;
}

export class QuietRequests {
  private readonly tags = new Int32Array(SLOTS);
  private readonly entries: (QuietRequest | undefined)[] = new Array<QuietRequest | undefined>(SLOTS).fill(undefined);

  /** `attackInputs`: the engine detects attacks, so the key holds detection's inputs too. */
  constructor(private readonly attackInputs = false) {}

  /** Whether this request (every field the stages read) was remembered as quiet. */
  has(req: MoatRequest): boolean {
    const tag = requestTag(req);
    const slot = tag & (SLOTS - 1);
    if (this.tags[slot] !== tag) return false;
    const e = this.entries[slot];
    // The form arrays are compared by identity: the normaliser shares them per target, and a new array
    // (an absolute-form target's Host header) only costs a miss.
    if (e === undefined || e.path !== req.path || e.userAgent !== req.userAgent || e.ip !== req.ip ||
      e.host !== req.host || e.method !== req.method || e.params !== req.params ||
      e.pathForms !== req.pathForms || e.hostForms !== req.hostForms) return false;
    if (!this.attackInputs) return true;
    // A header sent twice is a list, never equal to a remembered string: judged afresh.
    const headers = req.headers;
    return req.body === undefined && e.url === req.url && e.userAgentHeader === headers?.['user-agent'] &&
      e.referer === headers?.referer && e.cookie === headers?.cookie;
  }

  add(req: MoatRequest): void {
    let length = req.ip.length + (req.path?.length ?? 0) + (req.userAgent?.length ?? 0) + (req.params?.length ?? 0) + (req.host?.length ?? 0);
    let url: string | undefined;
    let userAgentHeader: string | undefined;
    let referer: string | undefined;
    let cookie: string | undefined;
    if (this.attackInputs) {
      if (req.body !== undefined) return;
      const headers = req.headers;
      const ua = headers?.['user-agent'];
      const ref = headers?.referer;
      const cookies = headers?.cookie;
      if (typeof ua === 'object' || typeof ref === 'object' || typeof cookies === 'object') return;
      url = req.url;
      userAgentHeader = ua;
      referer = ref;
      cookie = cookies;
      length += (url?.length ?? 0) + (ua?.length ?? 0) + (ref?.length ?? 0) + (cookies?.length ?? 0);
    }
    if (length > MAX_KEY_LENGTH) return;
    const tag = requestTag(req);
    const slot = tag & (SLOTS - 1);
    this.tags[slot] = tag;
    this.entries[slot] = {
      ip: req.ip, method: req.method, host: req.host, hostForms: req.hostForms, path: req.path,
      pathForms: req.pathForms, params: req.params, userAgent: req.userAgent, url, userAgentHeader, referer, cookie,
    };
  }
}

/** The path's, user agent's and IP's sampled tags mixed: the fields that tell most requests apart. */
function requestTag(req: MoatRequest): number {
  const h = Math.imul(tagOf(req.path ?? ''), 31) ^ Math.imul(tagOf(req.userAgent ?? ''), 17) ^ tagOf(req.ip);
  return h ^ (h >>> 13);
}
