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
 * Collects up to `limit` bytes of the body, then gives everything back to the stream. Resolves with
 * the bytes, or null when the request ended abnormally (the app then sees the error as usual).
 * Never rejects. Call only when canPeekBody(req).
 */
export function peekBody(req: IncomingMessage, limit: number): Promise<PeekedBody | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
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
      if (size > limit) {
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
  });
}
