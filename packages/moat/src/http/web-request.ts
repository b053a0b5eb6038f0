// The parts of a Web-standard `Request` (Next.js proxy, Bun, Deno, h3, Hono on any runtime) that the
// Node path reads from an IncomingMessage: its headers as a read-only view, and its body read from a
// clone, so the app still gets every byte. The rest of the judging is the Node path's, unchanged.

import type { IncomingHttpHeaders } from 'node:http';
import { OpeningWatch, type OpeningGate, type PeekedBody } from './peek-body.js';

/**
 * The headers as Node would present them (`headers['user-agent']`, repeated headers joined with `, `),
 * as a read-only view that asks `Headers.get()` for each name read, once: a second read of a name
 * (the body plan reads `content-type` twice, attack detection re-reads `user-agent`) is answered from
 * the view. Not a copy: the judging reads about half a dozen names, and iterating a Request's headers is
 * the dearest thing on the Web path. On @hono/node-server, iteration builds a whole undici Headers from
 * the raw headers the first time (which the app itself may never do), while get() reads the Node
 * request's parsed headers: in a Hono server profile the copy was 45 % of handle()'s time, and the get()
 * calls are still a fifth of it. Symbols, invalid names and absent headers read as undefined; a name such
 * as `__proto__` or `constructor` is only a header. Writes throw.
 */
export function webHeaders(headers: Headers): IncomingHttpHeaders {
  return new Proxy(new HeaderReads(headers), HEADER_VIEW) as unknown as IncomingHttpHeaders;
}

/** A view's request headers and the names read so far. Names are few (two to eight), so a list beats a Map. */
class HeaderReads {
  /** name, value, name, value…; null until the first read (a view nobody reads allocates nothing more). */
  private reads: (string | undefined)[] | null = null;

  constructor(readonly headers: Headers) {}

  value(name: string | symbol): string | undefined {
    if (typeof name !== 'string') return undefined;
    let reads = this.reads;
    if (reads === null) reads = this.reads = [];
    else {
      for (let i = 0; i < reads.length; i += 2) if (reads[i] === name) return reads[i + 1];
    }
    const value = headerValue(this.headers, name);
    reads.push(name, value);
    return value;
  }
}

function headerValue(headers: Headers, name: string): string | undefined {
  try {
    return headers.get(name) ?? undefined;
  } catch {
    // Not a valid header name (a listener reading `headers['a b']`): no such header.
    return undefined;
  }
}

const refuse = (): boolean => false;

// One handler for every view: no closure per request. Keys come from Headers itself, so spreading,
// Object.keys() and `in` see what get() sees.
const HEADER_VIEW: ProxyHandler<HeaderReads> = {
  get: (view, name) => view.value(name),
  has: (view, name) => view.value(name) !== undefined,
  // A Set: keys() repeats `set-cookie` once per value, and a proxy must not list a key twice.
  ownKeys: (view) => [...new Set(view.headers.keys())],
  getOwnPropertyDescriptor: (view, name) => {
    const value = view.value(name);
    return value === undefined ? undefined : { value, writable: false, enumerable: true, configurable: true };
  },
  getPrototypeOf: () => null,
  set: refuse,
  deleteProperty: refuse,
  defineProperty: refuse,
  setPrototypeOf: refuse,
};

// The runtimes whose servers are proven to hand a fetch handler no body on a GET or HEAD Request, even
// when the client sent one with Content-Length or chunked (adversarial/web-get-body.test.ts sends such
// requests to each): Node (undici's Request refuses one; @hono/node-server and srvx build none), Bun and
// Deno. Node 20 has no `navigator`; the others name themselves in navigator.userAgent. Elsewhere the
// body's headers are still read for every method.
const GET_BODIES_DROPPED = ((): boolean => {
  const agent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent;
  if (agent === undefined) return typeof process === 'object' && process.release?.name === 'node';
  return typeof agent === 'string' && (agent.startsWith('Node.js/') || agent.startsWith('Bun/') || agent.startsWith('Deno/'));
})();

/**
 * False when a Web Request with this method can hold no body the app could read, so the body's
 * headers need not be asked for (two `Headers.get()` calls, 100–200 ns each on @hono/node-server, a
 * fifth of the Web path's own cost for a GET). Exact upper case only: Deno hands a `get` request its
 * body. The decision is the same as reading them: such a Request's body is null, which
 * webBodyState() then found. Bodies of the Node request behind it are the Node path's to judge.
 */
export function webMethodMayHaveBody(method: string): boolean {
  return !GET_BODIES_DROPPED || (method !== 'GET' && method !== 'HEAD');
}

/** 'none' when the request has no body at all; 'unreadable' when the app (or a framework) has started reading it. */
export function webBodyState(request: Request): 'readable' | 'unreadable' | 'none' {
  const body = request.body;
  if (body === null) return 'none';
  return request.bodyUsed || body.locked ? 'unreadable' : 'readable';
}

/**
 * Reads up to `limit` bytes of the body from a clone (a tee of the stream), then cancels the clone;
 * the original keeps every byte for the app. At most `limit` plus one chunk is held, whatever the
 * body's length. Resolves null when the body failed (the app then sees the error itself). Never rejects.
 */
export async function peekWebBody(request: Request, limit: number, opens?: OpeningGate): Promise<PeekedBody | null> {
  const opening = new OpeningWatch(opens);
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    const body = request.clone().body;
    if (body === null) return { bytes: Buffer.alloc(0), complete: true };
    reader = body.getReader();
  } catch {
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes: joined(chunks, size), complete: true };
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      chunks.push(chunk);
      size += chunk.length;
      if (opening.refuses(chunk) || size > limit) {
        // Enough to judge. Cancelling the clone stops only its branch of the tee.
        reader.cancel().catch(() => {});
        return { bytes: joined(chunks, size).subarray(0, limit), complete: false };
      }
    }
  } catch {
    reader.cancel().catch(() => {});
    return null;
  }
}

function joined(chunks: Buffer[], size: number): Buffer {
  const [only] = chunks;
  return chunks.length === 1 && only !== undefined ? only : Buffer.concat(chunks, size);
}
