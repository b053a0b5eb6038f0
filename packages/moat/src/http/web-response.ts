// Moat's answer (403, 429 with Retry-After, 503) as a Web-standard Response: the same status, headers
// and body the Node path writes. A Response can be sent only once, so one is built per answer.

import type { BlockResponse } from '../firewall/options.js';

export function toWebResponse(answer: BlockResponse): Response {
  const body = answer.body ?? '';
  const headers = new Headers(answer.headers);
  headers.set('content-length', String(Buffer.byteLength(body)));
  return new Response(body, { status: answer.status, headers });
}
