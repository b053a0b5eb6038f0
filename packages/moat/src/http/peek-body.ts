// Reading a request body without taking it from the app. Node's HTTP parser delivers body bytes by
// calling `req.push(chunk)` and ends with `req.push(null)`. While Moat looks, it stands in for `push`
// and keeps the bytes; then it pushes them, in order, into the real stream. The stream never started
// flowing and nothing was read from it, so every consumer downstream (body-parser, Fastify's parsers,
// Hono's node-server, a plain `for await`) sees an untouched request. Reading with read() and handing
// bytes back with unshift() would mark the stream as read, which @hono/node-server refuses.

import type { IncomingMessage } from 'node:http';

export interface PeekedBody {
  bytes: Buffer;
  /** False when the body was longer than the limit: `bytes` is then only its beginning. */
  complete: boolean;
}

type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/**
 * True when no one has started reading the body yet. If someone has, or bytes already sit in the
 * stream's buffer, peeking could reorder them, so the body is not inspected.
 */
export function canPeekBody(req: IncomingMessage): boolean {
  return (
    typeof req.push === 'function' &&
    !req.complete &&
    !req.destroyed &&
    req.readableLength === 0 &&
    !req.readableDidRead &&
    req.readableFlowing !== true
  );
}

/**
 * Which opening bytes make a body worth reading on: called with the body's first byte that is not ASCII
 * white space; false stops the peek there (the body is then returned cut, `complete: false`), so a body
 * that cannot be what Moat looks for (an upload under an odd type) is not held until `limit` bytes came.
 */
export type OpeningGate = (byte: number) => boolean;

/** An OpeningGate applied to a body's chunks in order: it answers on the first chunk that has a byte past white space. */
export class OpeningWatch {
  constructor(private gate: OpeningGate | undefined) {}

  /** True when this chunk holds the body's opening byte and the gate refuses it. */
  refuses(chunk: Uint8Array): boolean {
    const gate = this.gate;
    if (gate === undefined) return false;
    const first = firstSignificantByte(chunk);
    if (first < 0) return false;
    this.gate = undefined;
    return !gate(first);
  }
}

/** The first byte of `bytes` that is not ASCII white space (tab, line feed, VT, FF, CR, space), or -1. */
export function firstSignificantByte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && (b < 0x09 || b > 0x0d)) return b;
  }
  return -1;
}

/**
 * Collects up to `limit` bytes of the body, then gives everything back to the stream. Resolves with
 * the bytes, or null when the request ended abnormally (the app then sees the error as usual).
 * Never rejects. Call only when canPeekBody(req). `opens`: see OpeningGate.
 */
export function peekBody(req: IncomingMessage, limit: number, opens?: OpeningGate): Promise<PeekedBody | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const opening = new OpeningWatch(opens);
    const hadOwnPush = Object.prototype.hasOwnProperty.call(req, 'push');
    const originalPush = req.push as Push;

    const restorePush = () => {
      if (hadOwnPush) req.push = originalPush;
      else delete (req as { push?: Push }).push;
    };

    // Gives the bytes back to the real stream, in order; the parser's current push continues after.
    const handBack = (ended: boolean): boolean => {
      let result = true;
      for (const chunk of chunks) result = req.push(chunk);
      if (ended) result = req.push(null);
      return result;
    };

    const settle = (value: PeekedBody | null) => {
      settled = true;
      req.off('close', onClose);
      req.off('error', onError);
      resolve(value);
    };

    const collected = () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));

    const onClose = () => {
      if (settled) return;
      restorePush();
      settle(null);
    };
    const onError = onClose;

    (req as { push: Push }).push = function interceptPush(chunk: unknown, encoding?: BufferEncoding): boolean {
      if (settled) return originalPush.call(req, chunk, encoding);
      if (chunk === null || chunk === undefined) {
        restorePush();
        const body = collected();
        const result = handBack(true);
        settle({ bytes: body, complete: true });
        return result;
      }
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding);
      chunks.push(buffer);
      size += buffer.length;
      if (opening.refuses(buffer) || size > limit) {
        // Enough to judge; the rest streams straight to the app, and backpressure applies again.
        restorePush();
        const body = collected();
        const result = handBack(false);
        settle({ bytes: body.subarray(0, limit), complete: false });
        return result;
      }
      return true;
    };

    req.on('close', onClose);
    req.on('error', onError);
    // HTTP/2's compatibility request pulls its stream's data only once asked to read, where HTTP/1's parser
    // pushes on its own. read(0) asks without taking anything: the data flows into push() above.
    if ((req as { stream?: unknown }).stream !== undefined) req.read(0);
  });
}
