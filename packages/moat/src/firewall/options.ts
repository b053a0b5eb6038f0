// Everything a user can set, in one typed object. Every field is optional and the defaults are the
// safe choice: trust no proxy, read form bodies only when a parameter rule needs them, never JSON
// unless asked, fail open but say so.

import type { IncomingMessage } from 'node:http';
import type { DataMode } from '../data/data-set.js';
import type { Decision, MoatRequest } from '../engine/decision.js';
import type { SharedRateLimitStore } from '../engine/shared-rate-limit-store.js';
import type { ForwardingHeader } from '../http/client-address.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { TrustedProxySpec } from '../http/trusted-proxies.js';
import type { MoatLogger } from './logger.js';
import type { MoatErrorCode } from '../errors/codes.js';

/** What Moat answers instead of the app. */
export interface BlockResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A fixed answer (fields default to Moat's), or a function choosing one per request. */
export type ResponseOption =
  | Partial<BlockResponse>
  | ((decision: Decision, request: MoatHttpRequest) => BlockResponse);

/** The part of an engine the firewall uses; `Engine` from engine/ fits, and so does a test double. */
export interface FirewallEngine {
  evaluate(request: MoatRequest): Decision;
  /** Counts rate limits left pending by evaluate() (engines with a shared rate-limit store). Never rejects. */
  settleRateLimits?(decision: Decision, onFallback?: (error: Error) => void): Promise<Decision>;
  close?(): void;
  /** True when a rate limit counts by user id: the firewall then calls the `user` option per request. */
  readonly rateLimitsByUser?: boolean;
  /** When given, Moat skips building parameters (and reading bodies) while there are no parameter rules. */
  readonly rules?: { readonly params: { readonly size: number }; readonly attacks?: object | null };
}

/** The `user` option: the app's own id for the user making `request`, or undefined. */
export type RateLimitUser = (request: IncomingMessage | Request) => string | number | null | undefined;

export type DecisionListener = (decision: Decision, request: MoatHttpRequest) => void;

export type MoatErrorKind = 'startup' | 'engine' | 'hook' | 'configuration' | 'rateLimitStore';

export interface MoatErrorEvent {
  kind: MoatErrorKind;
  /** The stable code to match on (docs/errors.md): the error's own, or the kind's. */
  code: MoatErrorCode;
  error: Error;
  /** The request being judged, when there was one. */
  request?: MoatHttpRequest;
}

export interface BodyOptions {
  /** Read form bodies, urlencoded and the text fields of multipart ones, for parameter rules and attack detection (default true; only when they exist). */
  form?: boolean;
  /** Also read JSON bodies (default false). */
  json?: boolean;
  /** Bytes read at most; a longer body is judged on its beginning and streams on untouched (default 64 KiB). */
  limit?: number;
  /**
   * A body Moat reads that is longer than `limit` (as sent or inflated), whose rest the app may still act
   * on: `'judge'` judges its beginning only (default), `'monitor'` also adds a `body-oversize` monitor
   * match to the decision (so reports show it), `'block'` blocks a request that would otherwise pass.
   */
  oversize?: BodyOversize;
}

export type BodyOversize = 'judge' | 'monitor' | 'block';

export interface MoatOptions {
  /** Rules file path (Moat or Wafris format). */
  rules?: string;
  /** Data file path (countries, ASNs, IP lists). */
  data?: string;
  /** `memory` (default) loads the data ranges for the fastest lookups; `light` seeks in the file, for less memory per process. */
  dataMode?: DataMode;
  /** A ready engine instead of `rules`/`data` (managed mode, tests). */
  engine?: FirewallEngine;
  /** Millisecond clock handed to the engine (rate limits, expiry) and used for log intervals. */
  now?: () => number;
  /**
   * Rate-limit counters shared by every process, e.g. `new RedisRateLimitStore({ redis })` from
   * `moat/ratelimit/redis`. Default: counted in this process. Only requests that match a rate-limit rule
   * wait for it, within its time budget; when it cannot answer, this process limits them (`rateLimitStore` errors).
   * Used by the engines the firewall builds (from `rules`, or in managed mode); an `engine` passed in uses
   * its own `sharedRateLimits` part.
   */
  rateLimitStore?: SharedRateLimitStore;
  /**
   * The app's user id, for rate limits with `key: user`: called with the request as the adapter holds it
   * (a Node IncomingMessage, or the Express/Fastify raw request; a Web `Request` on Web front doors), and
   * only while such a rule is in force. Return undefined (or '') for an anonymous request: it counts by IP.
   * A throw is an `hook` error and the request counts by IP. The value is hashed before it is counted.
   */
  user?: RateLimitUser;

  /**
   * Peers whose client-IP header is believed: IPs, CIDRs (IPv4 and IPv6), `start-end` ranges and the
   * presets `loopback`, `private`, `unix` (the app listens on a Unix socket behind a local proxy),
   * `cloudflare`, `fly`, `vercel`, `aws-alb`, `gcp-lb`. Default: none. `TRUSTED_PROXY_RANGES` adds to it.
   */
  trustedProxies?: readonly TrustedProxySpec[];
  /**
   * The one header a trusted proxy writes the client's address into; no other header is ever read.
   * Default: `MOAT_IP_HEADER`, else the header of the platform preset in `trustedProxies` (`cloudflare`:
   * cf-connecting-ip, `fly`: fly-client-ip), else x-forwarded-for (read right to left). Set it to
   * `'x-real-ip'` behind an nginx that sets only X-Real-IP.
   */
  ipHeader?: ForwardingHeader;
  /** @deprecated Use `ipHeader`. A one-element list is read as `ipHeader`; a longer list is an error. */
  ipHeaders?: readonly ForwardingHeader[];

  body?: BodyOptions;

  /** Answer for Blocked decisions; default 403 `Blocked`. */
  blocked?: ResponseOption;
  /** Answer for rate-limit blocks; default 429 `Too Many Requests` with `Retry-After`. */
  rateLimited?: ResponseOption;
  /** Answer when Moat cannot judge a request: 503 with `failClosed`, otherwise the request goes on. */
  failClosed?: boolean;

  /** Called for every judged request, synchronously; exceptions are caught and counted. */
  onDecision?: DecisionListener;
  /** Called for every error event (start-up, engine, hook, rate-limit store); `configuration` events (no client address) at most once per `logIntervalMs`. */
  onError?: (event: MoatErrorEvent) => void;
  /** A pino-compatible logger, or false for none. Default: the console, events only. */
  logger?: MoatLogger | false;
  /** Minimum time between two log lines about the same recurring problem (default 60 s). */
  logIntervalMs?: number;
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
}
