// Reading a request body without taking it from the app. Node's HTTP parser delivers body bytes by
// calling `req.push(chunk)` and ends with `req.push(null)`. While Moat looks, it stands in for `push`
// and keeps the bytes; then it pushes them, in order, into the real stream. The stream never started
// flowing and nothing was read from it, so every consumer downstream (body-parser, Fastify's parsers,
// Hono's node-server, a plain `for await`) sees an untouched request. Reading with read() and handing
// bytes back with unshift() would mark the stream as read, which @hono/node-server refuses.
//
// Bytes the parser pushed before Moat was called (Moat mounted after a middleware that awaited something:
// a session store, an auth lookup) wait in the stream's buffer. They are looked at where they lie, not
// taken: an app acts on them all the same.

import type { IncomingMessage } from 'node:http';

export interface PeekedBody {
  bytes: Buffer;
  /** False when the body was longer than the limit: `bytes` is then only its beginning. */
  complete: boolean;
}

type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/**
 * True when no one has started reading the body yet: bytes may wait in the stream's buffer (looked at
 * where they lie), or, in a request a serverless adapter built complete, be pushed only once read. Once
 * someone has read, what is left is not the body, so it is not inspected.
 */
export function canPeekBody(req: IncomingMessage): boolean {
  if (typeof req.push !== 'function' || req.destroyed || req.readableDidRead || req.readableFlowing === true) return false;
  return (req.readableLength === 0 && !decodes(req)) || waitingChunks(req) !== null;
}

/** The stream was handed its end (`push(null)`): Node's parser does so when the request is complete. */
function endPushed(req: IncomingMessage): boolean {
  const ended = (req as { _readableState?: { ended?: unknown } })._readableState?.ended;
  return typeof ended === 'boolean' ? ended : req.complete;
}

interface ReadableStateLike { buffer?: unknown; bufferIndex?: unknown; encoding?: unknown; decoder?: unknown }

function readableStateOf(req: IncomingMessage): ReadableStateLike | undefined {
  return (req as { _readableState?: ReadableStateLike })._readableState;
}

/**
 * The body bytes waiting in the stream's buffer, unread, without taking them. Node keeps them in
 * `_readableState.buffer`: an array whose live part starts at `bufferIndex` (Node 20.20, 22, 24), a
 * linked list that iterates its chunks in older releases. A stream given an encoding (`setEncoding()`)
 * holds them decoded, as the strings the app will read: encoded back, they are the bytes sent (the app
 * reads no other text), followed by the start of a character split between chunks, which the decoder
 * holds until the rest comes. Null when the buffer is not what that says (a length that does not add up,
 * a decoder or layout of another shape): the body is then not judged, and counted `unreadable`.
 */
function waitingChunks(req: IncomingMessage): Buffer[] | null {
  const state = readableStateOf(req);
  const buffer = state?.buffer;
  let chunks: unknown[];
  if (Array.isArray(buffer)) chunks = buffer.slice(typeof state?.bufferIndex === 'number' ? state.bufferIndex : 0);
  else if (buffer !== null && typeof buffer === 'object' && Symbol.iterator in buffer) chunks = [...(buffer as Iterable<unknown>)];
  else return null;
  const encoding = typeof state?.encoding === 'string' && Buffer.isEncoding(state.encoding) ? state.encoding : null;
  const bytes: Buffer[] = [];
  // In the stream's own unit, as readableLength counts: bytes, or characters once decoded.
  let size = 0;
  for (const chunk of chunks) {
    if (Buffer.isBuffer(chunk)) bytes.push(chunk);
    else if (typeof chunk === 'string' && encoding !== null) bytes.push(Buffer.from(chunk, encoding));
    else return null;
    size += chunk.length;
  }
  if (size !== req.readableLength) return null;
  if (encoding === null) return bytes;
  const held = decoderHeldBytes(state?.decoder);
  if (held === null) return null;
  if (held.length > 0) bytes.push(held);
  return bytes;
}

/** The bytes a StringDecoder holds (a character's start): `lastChar`'s first `lastTotal - lastNeed`. Null for another shape. */
function decoderHeldBytes(decoder: unknown): Buffer | null {
  const d = decoder as { lastChar?: unknown; lastNeed?: unknown; lastTotal?: unknown } | null | undefined;
  if (typeof d !== 'object' || d === null || !Buffer.isBuffer(d.lastChar) || typeof d.lastNeed !== 'number' || typeof d.lastTotal !== 'number') return null;
  const held = d.lastTotal - d.lastNeed;
  return held >= 0 && held <= d.lastChar.length ? Buffer.from(d.lastChar.subarray(0, held)) : null;
}

/** True when the stream was given an encoding: bytes may sit in its decoder though none wait in its buffer. */
function decodes(req: IncomingMessage): boolean {
  const decoder = readableStateOf(req)?.decoder;
  return decoder !== null && decoder !== undefined;
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
    // Every byte seen, in order; `held`: those taken from push(), to be handed back (the waiting ones never left).
    const chunks: Buffer[] = [];
    const held: Buffer[] = [];
    let size = 0;
    let settled = false;
    const opening = new OpeningWatch(opens);
    const collected = () => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));

    const waiting = req.readableLength === 0 && !decodes(req) ? [] : waitingChunks(req);
    if (waiting === null) {
      resolve(null);
      return;
    }
    for (const chunk of waiting) {
      chunks.push(chunk);
      size += chunk.length;
      if (opening.refuses(chunk) || size > limit) {
        resolve({ bytes: collected().subarray(0, limit), complete: false });
        return;
      }
    }
    // The end was pushed already: the whole body was waiting (or there is none).
    if (endPushed(req)) {
      resolve({ bytes: collected(), complete: true });
      return;
    }

    const hadOwnPush = Object.prototype.hasOwnProperty.call(req, 'push');
    const originalPush = req.push as Push;

    const restorePush = () => {
      if (hadOwnPush) req.push = originalPush;
      else delete (req as { push?: Push }).push;
    };

    // Gives the bytes back to the real stream, in order; the parser's current push continues after.
    const handBack = (ended: boolean): boolean => {
      let result = true;
      for (const chunk of held) result = req.push(chunk);
      if (ended) result = req.push(null);
      return result;
    };

    const settle = (value: PeekedBody | null) => {
      settled = true;
      req.off('close', onClose);
      req.off('error', onError);
      resolve(value);
    };

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
      held.push(buffer);
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
    // HTTP/2's compatibility request (and a core API stream) pulls data only once asked to read, where HTTP/1's parser
    // pushes on its own; so does a request a serverless adapter built (serverless-http on AWS Lambda:
    // `complete` from the start, its body pushed by its own _read()). read(0) asks without taking
    // anything: the data flows into push() above. Waiting bytes may have filled the stream's buffer, and
    // HTTP/1's parser then stopped reading the socket: a read of one more than the stream holds (in its own
    // unit: characters once decoded) asks for more and takes nothing (it returns null, and raises the
    // buffer's mark past them).
    if (size > 0) req.read(req.readableLength + 1);
    else if ((req as { stream?: unknown }).stream !== undefined || 'endAfterHeaders' in req || req.complete) req.read(0);
  });
}
