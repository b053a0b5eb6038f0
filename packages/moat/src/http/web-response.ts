// Moat's answer (403, 429 with Retry-After, 503) as a Web-standard Response: the same status, headers
// and body the Node path writes. A Response can be sent only once, so one is built per answer.

import type { BlockResponse } from '../firewall/options.js';

export function toWebResponse(answer: BlockResponse): Response {
  const body = answer.body ?? '';
  // A plain record rather than a Headers object: cheaper to build, and @hono/node-server writes a
  // Response with a string body and record headers on its fast path. Our own Content-Length wins over
  // any spelling of it in a configured answer, as Headers.set() made it before.
  const headers: Record<string, string> = {};
  const given = answer.headers;
  if (given !== undefined) {
    for (const name in given) {
      const value = given[name];
      if (value !== undefined && name.toLowerCase() !== 'content-length') headers[name] = value;
    }
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  return new Response(body, { status: answer.status, headers });
}
