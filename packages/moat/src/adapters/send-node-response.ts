// Writes Moat's answer on a plain Node response (node:http, Express, Koa's raw response), or on a stream of
// node:http2's core API.

import type { ServerResponse } from 'node:http';
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
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

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2): a `blockResponse` written for HTTP/1 may carry them. */
const HTTP1_ONLY_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Moat's answer on an HTTP/2 stream (the core API: `stream.respond()`); a stream already answered or gone is ended. */
export function sendStreamResponse(stream: ServerHttp2Stream, response: BlockResponse): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.end();
    return;
  }
  const body = response.body ?? '';
  const headers: OutgoingHttpHeaders = {};
  if (response.headers !== undefined) {
    for (const name in response.headers) {
      const value = response.headers[name];
      // HTTP/2 names are lower case, and respond() throws on HTTP/1's connection-specific headers.
      const lower = name.toLowerCase();
      if (value !== undefined && !HTTP1_ONLY_HEADERS.has(lower)) headers[lower] = value;
    }
  }
  headers[':status'] = response.status;
  headers['content-length'] = Buffer.byteLength(body);
  stream.respond(headers);
  stream.end(body);
}
