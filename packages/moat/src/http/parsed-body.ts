// A body a parser read before Moat saw the request, as that parser left it on `req.body` (Express's
// body parsers, multer, Next's API routes): Moat mounted after them cannot read the bytes, but what the
// app acts on is right there. It is judged in their place: written out as JSON, as a JSON body is, or,
// for raw bytes, as the body itself.

import type { IncomingMessage } from 'node:http';

/** Nesting written at most; deeper values are left out (JSON bodies are flattened to 32 levels anyway). */
const MAX_DEPTH = 64;

/**
 * The bytes a raw body parser left on `req.body` (or `parsed`) once the stream was read to its end
 * (`express.raw()`, the usual way to take a signed webhook's body: already inflated, as the parser
 * inflates), or null. They are the body the app acts on, so they are judged as a body sent as they are.
 */
export function parsedBodyBytes(req: IncomingMessage, parsed?: unknown): Uint8Array | null {
  if (!req.readableEnded) return null;
  const body = parsed ?? (req as { body?: unknown }).body;
  return body instanceof Uint8Array && body.length > 0 ? body : null;
}

/**
 * The JSON text of the body a parser left on `req.body` (or `parsed`, where the framework keeps it) once the stream was read to its end, at most
 * `limit` characters and then `complete: false`, or null when there is nothing to judge there: no body,
 * raw bytes (express.raw()), an empty object or array (Express 4 sets `{}` whether or not anything was
 * parsed). Written out a value at a time and stopped at the limit, so a parser's 10 MB document costs
 * what `limit` characters of it cost, not a whole JSON.stringify().
 */
export function parsedBodyJson(req: IncomingMessage, limit: number, parsed?: unknown): { text: string; complete: boolean } | null {
  if (!req.readableEnded) return null;
  // Koa's body parsers leave it on ctx.request.body, which its adapter hands over.
  const body = parsed ?? (req as { body?: unknown }).body;
  if (typeof body === 'string' ? body === '' : !isPlainData(body)) return null;
  const out = new BoundedJson(limit);
  out.value(body, 0);
  if (out.text === '{}' || out.text === '[]') return null;
  return { text: out.text.slice(0, limit), complete: !out.full && !out.cut };
}

function isPlainData(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer);
}

/** JSON text as JSON.stringify() writes it (own enumerable keys, toJSON, no undefined or functions), up to a length. */
class BoundedJson {
  text = '';
  /** The text reached the limit. */
  full = false;
  /** A value was left out (nested too deep). */
  cut = false;

  constructor(private readonly limit: number) {}

  value(value: unknown, depth: number): void {
    if (this.full) return;
    if (typeof value === 'string') return this.add(JSON.stringify(value.length > this.limit ? value.slice(0, this.limit) : value));
    if (typeof value === 'number') return this.add(Number.isFinite(value) ? String(value) : 'null');
    if (typeof value === 'boolean') return this.add(value ? 'true' : 'false');
    if (typeof value !== 'object' || value === null) return this.add('null');
    const withJson = value as { toJSON?: unknown };
    if (typeof withJson.toJSON === 'function') return this.value((withJson.toJSON as () => unknown).call(value), depth);
    if (depth >= MAX_DEPTH) {
      // Deeper than a parser's output should be (or a cycle): what is left out makes the text incomplete.
      this.cut = true;
      return this.add('null');
    }
    if (Array.isArray(value)) {
      this.add('[');
      for (let i = 0; i < value.length && !this.full; i++) {
        if (i > 0) this.add(',');
        const item: unknown = value[i];
        this.value(item === undefined || typeof item === 'function' ? null : item, depth + 1);
      }
      return this.add(']');
    }
    this.add('{');
    let first = true;
    for (const key of Object.keys(value)) {
      if (this.full) return;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      this.add(`${first ? '' : ','}${JSON.stringify(key.length > this.limit ? key.slice(0, this.limit) : key)}:`);
      first = false;
      this.value(item, depth + 1);
    }
    this.add('}');
  }

  private add(part: string): void {
    if (this.full) return;
    this.text += part;
    if (this.text.length > this.limit) this.full = true;
  }
}
