// A body a parser read before Moat saw the request, as that parser left it on `req.body` (Express's
// body parsers, multer, Next's API routes): Moat mounted after them cannot read the bytes, but what the
// app acts on is right there. It is judged in their place, serialised as JSON, as a JSON body is.

import type { IncomingMessage } from 'node:http';

/**
 * The JSON text of the body a parser left on `req.body` once the stream was read to its end, or null
 * when there is nothing to judge there: no body, raw bytes (express.raw()), an empty object (Express 4
 * sets `{}` whether or not anything was parsed), or a value JSON cannot hold. The parser that made it
 * bounded its size; the text is cut at the read limit like any body.
 */
export function parsedBodyJson(req: IncomingMessage): Buffer | null {
  if (!req.readableEnded) return null;
  const body = (req as { body?: unknown }).body;
  if (typeof body === 'string') return body === '' ? null : Buffer.from(JSON.stringify(body), 'utf8');
  if (typeof body !== 'object' || body === null || ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch {
    // A cycle or a BigInt: not a parser's output.
    return null;
  }
  if (text === undefined || text === '{}' || text === '[]') return null;
  return Buffer.from(text, 'utf8');
}
