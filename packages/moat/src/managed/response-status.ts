// Reports the response status of each judged request, for the hub's status-based threshold rules
// ("≥ 30 responses with status 404 in a minute"). node:http announces every finished response on the
// `http.server.response.finish` diagnostics channel, synchronously, whatever the framework on top; the
// decision's record is written first (as before) and its request tagged with the record's sequence
// number, so the status written later finds its record (report/status-join.ts). Nothing waits on the
// response. The status of the request recorded last rides on the next ring entry (RingWriter.holdStatus);
// a request still running when the next one is recorded gets a property holding its sequence number,
// and its status, when it comes, a 16-byte entry of its own.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Decision } from '../engine/decision.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import type { Upsync } from '../sync/upsync.js';

const RESPONSE_FINISH = 'http.server.response.finish';

/**
 * Bun and Deno run node:http on their own servers, which do not publish the channel: there a record
 * would only wait for a status that never comes, so none is awaited.
 */
export const CAPTURES_STATUS = typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' && process.versions.bun === undefined;

export class ResponseStatusReporter {
  /** One key per reporter: two managed firewalls in one process never read each other's tags. */
  private readonly seqKey = Symbol('moat.reportSeq');
  /**
   * The request recorded last and its sequence number, until its response finishes. Adding a property
   * to a Node request is a hidden-class change and a larger property store on every request (a tenth of
   * the record's cost, profiled); most responses finish before the next request is judged, so the last
   * one is matched by identity and only a request still running when the next is recorded gets the tag.
   */
  private pending: IncomingMessage | null = null;
  private pendingSeq = 0;
  private readonly onFinish = (message: unknown): void => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    if (request === this.pending) {
      this.pending = null;
      this.upsync.recordStatus(this.pendingSeq, response.statusCode);
      return;
    }
    const seq = (request as unknown as Record<symbol, number | undefined>)[this.seqKey];
    if (seq !== undefined) this.upsync.recordStatus(seq, response.statusCode);
  };
  private subscribed = false;

  constructor(private readonly upsync: Upsync) {
    if (!CAPTURES_STATUS) return;
    subscribe(RESPONSE_FINISH, this.onFinish);
    this.subscribed = true;
  }

  /** The decision listener: writes the record, and tags a Node request whose status will follow. */
  readonly record = (decision: Decision, request: MoatHttpRequest, raw?: IncomingMessage): void => {
    // HTTP/2 compatibility requests are not IncomingMessages and are not announced on the channel.
    const awaits = this.subscribed && raw instanceof IncomingMessage;
    if (!awaits && this.subscribed && raw !== undefined) {
      const stream = http2StreamOf(raw);
      if (stream !== undefined) {
        this.recordHttp2(decision, request, stream);
        return;
      }
    }
    const seq = this.upsync.record(decision, request, awaits);
    if (!awaits || seq === -1) return;
    // The previous request is still running: it carries its number from now on.
    if (this.pending !== null) (this.pending as unknown as Record<symbol, number>)[this.seqKey] = this.pendingSeq;
    this.pending = raw as IncomingMessage;
    this.pendingSeq = seq;
  };

  /**
   * An HTTP/2 request's status is the `:status` its stream sent, read when the stream closes (a listener
   * per request: HTTP/2 only). A stream reset before it answered has none; its record goes on without one.
   */
  private recordHttp2(decision: Decision, request: MoatHttpRequest, stream: Http2StreamLike): void {
    const seq = this.upsync.record(decision, request, true);
    if (seq === -1) return;
    stream.once('close', () => {
      const status = stream.sentHeaders?.[':status'];
      if (this.subscribed && typeof status === 'number') this.upsync.recordStatus(seq, status);
    });
  }

  close(): void {
    this.pending = null;
    if (!this.subscribed) return;
    this.subscribed = false;
    unsubscribe(RESPONSE_FINISH, this.onFinish);
  }
}

/** What is read of a node:http2 server stream. */
interface Http2StreamLike {
  readonly sentHeaders?: Record<string, unknown>;
  once(event: 'close', listener: () => void): unknown;
}

/** The stream behind an HTTP/2 compatibility request (node:http2's Http2ServerRequest), the stream itself for
 * one judged on the core API (withMoatStream), or undefined. */
function http2StreamOf(raw: object): Http2StreamLike | undefined {
  const stream = (raw as { stream?: Partial<Http2StreamLike> }).stream ?? raw as Partial<Http2StreamLike>;
  return typeof stream?.once === 'function' && 'sentHeaders' in stream ? stream as Http2StreamLike : undefined;
}
