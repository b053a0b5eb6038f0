// A feed publisher on 127.0.0.1 for the feed tests: each path answers what the test set last, with
// ETag / If-None-Match (304) like a real feed host, and records every request it saw.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FeedHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface SeenRequest {
  path: string;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
}

export class FeedServer {
  private readonly server: Server;
  private readonly bodies = new Map<string, string>();
  private readonly handlers = new Map<string, FeedHandler>();
  readonly seen: SeenRequest[] = [];
  base = '';

  constructor() {
    this.server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0]!;
      this.seen.push({ path, ifNoneMatch: request.headers['if-none-match'], ifModifiedSince: request.headers['if-modified-since'] });
      const handler = this.handlers.get(path);
      if (handler) return handler(request, response);
      const body = this.bodies.get(path);
      if (body === undefined) return response.writeHead(404).end('not found');
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      if (request.headers['if-none-match'] === etag) return response.writeHead(304, { etag }).end();
      response.writeHead(200, { 'content-type': 'text/plain', etag, 'content-length': Buffer.byteLength(body) }).end(body);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Serves `body` at `path` (with an ETag derived from it). */
  serve(path: string, body: string): void {
    this.handlers.delete(path);
    this.bodies.set(path, body);
  }

  /** Answers `path` with a handler of the test's own. */
  handle(path: string, handler: FeedHandler): void {
    this.handlers.set(path, handler);
  }

  requests(path: string): SeenRequest[] {
    return this.seen.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `n` distinct /32 entries in 203.0.113.0/24 and above (a plain IP list), with a comment header. */
export function ipList(n: number, first = 0): string {
  const lines = ['# test feed', '; generated'];
  for (let i = first; i < first + n; i++) lines.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return `${lines.join('\n')}\n`;
}
