// Reading a request body for parameter and attack rules: which bodies to read (forms, JSON when opted
// in, any method with a declared body), reading at most `limit` bytes without taking them from the app,
// inflating as the app's body parser would, and counting every body Moat could not judge in full.

import type { IncomingMessage } from 'node:http';
import { bodyToRead, declaredBodyLength, type BodyToRead } from '../http/body-kind.js';
import { bodyParams, joinParams } from '../http/request-params.js';
import { bodyText } from '../http/body-text.js';
import { inflateBody } from '../http/inflate-body.js';
import { brotliGate } from '../http/inflate-gate.js';
import { BodyBusyError } from '../errors/moat-error.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { canPeekBody, peekBody, type PeekedBody } from '../http/peek-body.js';
import { peekWebBody, webBodyState } from '../http/web-request.js';
import type { BodyOptions, FirewallEngine } from './options.js';
import type { FirewallCounters } from './stats.js';

const DEFAULT_BODY_LIMIT = 64 * 1024;

export class BodyReading {
  /** Forms or JSON are read at all; when false no body is ever planned. */
  readonly enabled: boolean;
  private readonly readsForms: boolean;
  private readonly readsJson: boolean;
  /** Bytes read (and inflated) at most. */
  readonly limit: number;

  constructor(options: BodyOptions | undefined, private readonly counters: FirewallCounters) {
    this.readsForms = options?.form !== false;
    this.readsJson = options?.json === true;
    this.enabled = this.readsForms || this.readsJson;
    this.limit = Math.max(0, options?.limit ?? DEFAULT_BODY_LIMIT);
  }

  /**
   * The body of a Node request to read, or null. Any method with a declared body qualifies, GET and
   * HEAD too: body-parser reads a GET's form body, so an app may act on it. What cannot be read is counted.
   */
  bodyToRead(req: IncomingMessage, headers: IncomingMessage['headers']): BodyToRead | null {
    if (declaredBodyLength(headers) === 0) return null;
    const plan = this.bodyPlan(headers);
    if (plan !== null && !canPeekBody(req)) {
      this.counters.bodiesUninspected.unreadable++;
      return null;
    }
    return plan;
  }

  /** The same for a Web Request, whose body is read from a clone; one already being read is counted. */
  webBodyToRead(request: Request, headers: IncomingMessage['headers']): BodyToRead | null {
    if (headers['content-length'] === '0') return null;
    const plan = this.bodyPlan(headers);
    if (plan === null) return null;
    const state = webBodyState(request);
    if (state === 'readable') return plan;
    if (state === 'unreadable') this.counters.bodiesUninspected.unreadable++;
    return null;
  }

  /** How to read a body by its headers alone, or null; a body Moat cannot judge is counted. */
  bodyPlan(headers: IncomingMessage['headers']): BodyToRead | null {
    const plan = bodyToRead(headers, this.readsJson);
    if (plan === null) return null;
    if (typeof plan === 'string') {
      this.counters.bodiesUninspected[plan]++;
      return null;
    }
    if (plan.kind === 'form' && !this.readsForms) return null;
    return plan;
  }

  peekNode(req: IncomingMessage): Promise<PeekedBody | null> {
    return peekBody(req, this.limit);
  }

  peekWeb(request: Request): Promise<PeekedBody | null> {
    return peekWebBody(request, this.limit);
  }

  /**
   * Adds the peeked body to `request`: its parameters joined to the query's and, when the engine detects
   * attacks, its text. A body that failed to arrive adds nothing (the app sees the failure itself).
   * Rejects when the body's content cannot be turned into parameters, and with a BodyBusyError (counted
   * `busy`) when a brotli body finds the gate's queue full.
   */
  async addTo(request: MoatHttpRequest, peeked: Promise<PeekedBody | null>, plan: BodyToRead, engine: FirewallEngine): Promise<void> {
    let body = await peeked;
    if (body === null) return;
    // Inflated as the app's body parser would; at most `limit` bytes come out, whatever went in.
    const counters = this.counters;
    if (plan.coding === 'br') {
      const peeked = body;
      const inflating = brotliGate.run(() => inflateBody(peeked, 'br', this.limit));
      if (inflating === null) {
        counters.bodiesUninspected.busy++;
        throw new BodyBusyError();
      }
      body = await inflating;
    } else if (plan.coding !== 'identity') {
      body = await inflateBody(body, plan.coding, this.limit);
    }
    counters.bodiesInspected++;
    if (!body.complete) {
      counters.bodiesTruncated++;
      counters.bodiesUninspected.tooLarge++;
    }
    request.params = joinParams(request.params, bodyParams(body, plan.kind, plan.charset));
    // Attack detection reads the body field by field (attacks/request-attacks.ts), not the joined params.
    if (engine.rules?.attacks) request.body = plan.kind === 'form' ? { kind: 'form', text: body.bytes.toString('latin1'), bytes: body.bytes } : { kind: 'json', text: bodyText(body.bytes, plan.charset) };
  }
}
