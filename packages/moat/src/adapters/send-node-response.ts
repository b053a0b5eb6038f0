// Writes Moat's answer on a plain Node response (node:http, Express, Koa's raw response).

import type { ServerResponse } from 'node:http';
import type { BlockResponse } from '../firewall/options.js';

export function sendNodeResponse(res: ServerResponse, response: BlockResponse): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = response.body ?? '';
  res.statusCode = response.status;
  const headers = response.headers;
  if (headers !== undefined) {
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
  }
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
