// A real HTTP server on 127.0.0.1 speaking the Wafris v2 protocol (docs/wafris-v2.md) as
// the Moat hub does: downsync (200 with the SQLite file, Content-Disposition, ETag and, with a signing
// key, X-Moat-Signature and a signed freshness statement on 200 and 304; 304; 401) and gzip'd JSON
// upsync. Each category can be switched to a fault, and any answer it gave can be replayed.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { parseRulesDocument } from '../../src/rules/document.js';
import { buildDataFile } from '../../src/data/build-data.js';
import type { DataInputs } from '../../src/data/build-data.js';
import { COMPACT_TYPE, expandCompact, type PassedCountEntry } from './compact-upsync.js';

export type Category = 'custom_rules' | 'data_subscriptions';

/** How the hub answers a category's downsync requests. */
export type Fault =
  | { kind: 'serve' }
  | { kind: 'status'; status: number; body?: string }
  | { kind: 'garbage' }
  /** Declares the whole length, sends half, then closes the connection. */
  | { kind: 'truncate' }
  /** Answers headers, sends `bytes` of the body, then waits for ever (until the hub closes). */
  | { kind: 'stall-body'; bytes: number }
  /** Never answers. */
  | { kind: 'hang' }
  /** Both signatures (of the bytes, X-Moat-Signature, and of their SHA-256, X-Moat-Digest-Signature) made over other bytes. */
  | { kind: 'bad-signature' }
  | { kind: 'no-signature' }
  /** Only X-Moat-Digest-Signature, valid. */
  | { kind: 'digest-only' }
  /** Only X-Moat-Signature, valid: a hub from before digest signatures. */
  | { kind: 'full-only' }
  /** A valid X-Moat-Signature beside an X-Moat-Digest-Signature made over other bytes. */
  | { kind: 'bad-digest' }
  /** Redirects `count` times to itself before serving. */
  | { kind: 'redirect'; count: number }
  /** Signatures as usual, but no freshness statement (a hub from before them, or one stripped on the path). */
  | { kind: 'no-statement' }
  /** The body without Content-Length (chunked), so its size shows only as it arrives. */
  | { kind: 'chunked' }
  /** Whatever is asked, this earlier answer again, byte for byte (someone on the path replaying it). */
  | { kind: 'replay'; answer: RecordedAnswer };

/** A downsync answer as sent (200 and 304), for replaying it later. */
export interface RecordedAnswer {
  category: Category;
  apiKey: string;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ServedFile {
  body: Buffer;
  name: string;
  etag: string;
}

export interface DownsyncHit {
  category: Category;
  apiKey: string;
  query: Record<string, string>;
  ifNoneMatch: string | undefined;
  status: number;
}

export interface UpsyncHit {
  apiKey: string;
  contentEncoding: string | undefined;
  contentType: string | undefined;
  body: { meta: Record<string, string>; batch: Record<string, unknown>[]; aggregates?: PassedCountEntry[] } | null;
  status: number;
  /** Size of the JSON body (inflated). */
  bytes?: number;
}

export class FakeHub {
  readonly apiKey: string;
  readonly downsyncs: DownsyncHit[] = [];
  readonly upsyncs: UpsyncHit[] = [];
  readonly files = new Map<Category, ServedFile>();
  readonly faults = new Map<Category, Fault>();
  upsyncStatus = 200;
  /** Largest upsync body accepted, compressed and inflated alike (as the Moat hub does); larger: 413. */
  upsyncMaxBytes = Infinity;
  /** Whether compact batches (application/vnd.moat.upsync.v2+json) are taken; false: 415, as a hub that only knows Wafris JSON. */
  compactUpsync = true;
  /** Records the hub refuses one by one while storing the rest (answered as the Moat hub does). */
  refuseRecord: ((record: Record<string, unknown>) => boolean) | null = null;
  signingKey: KeyObject | null = null;
  /** With a signing key: send signed freshness statements (X-Moat-Freshness) on 200 and 304, as the Moat hub does. */
  statements = true;
  /** The hub's clock: a statement's `issued`. */
  clock: () => number = Date.now;
  /** Every 200 and 304 downsync answer sent, in order. */
  readonly answers: RecordedAnswer[] = [];
  /** Called when a stalled body has sent its first bytes. */
  onStall: (() => void) | null = null;
  private server: Server | null = null;
  private readonly open = new Set<ServerResponse>();
  port = 0;

  constructor(apiKey = 'test-key-123456') {
    this.apiKey = apiKey;
  }

  get downsyncUrl(): string {
    return `http://127.0.0.1:${this.port}/v2/downsync`;
  }

  get upsyncUrl(): string {
    return `http://127.0.0.1:${this.port}/v2/upsync`;
  }

  get hubUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const res of this.open) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  serve(category: Category, body: Buffer, name = `${category}-${this.files.size}-${Date.now()}.db`): ServedFile {
    const file = { body, name, etag: `"${name}"` };
    this.files.set(category, file);
    return file;
  }

  fault(category: Category, fault: Fault): void {
    this.faults.set(category, fault);
  }

  /** Generates an ed25519 key pair; returns the public key as base64 raw bytes and as PEM. */
  enableSigning(): { raw: string; pem: string } {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.signingKey = privateKey;
    const der = publicKey.export({ format: 'der', type: 'spki' });
    return { raw: der.subarray(der.length - 32).toString('base64'), pem: String(publicKey.export({ format: 'pem', type: 'spki' })) };
  }

  downloads(category: Category): number {
    return this.downsyncs.filter((h) => h.category === category && h.status === 200).length;
  }

  records(): Record<string, unknown>[] {
    return this.upsyncs.filter((u) => u.status === 200).flatMap((u) => u.body?.batch ?? []);
  }

  /** Counts of Passed requests received (compact batches' `aggregates`). */
  passedCounts(): PassedCountEntry[] {
    return this.upsyncs.filter((u) => u.status === 200).flatMap((u) => u.body?.aggregates ?? []);
  }

  /** Requests reported: records plus counted Passed requests. */
  requestsReported(): number {
    return this.records().length + this.passedCounts().reduce((sum, c) => sum + c.count, 0);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hub');
    const down = /^\/v2\/downsync\/(custom_rules|data_subscriptions)\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && down) return this.downsync(down[1] as Category, decodeURIComponent(down[2]), url, req, res);
    const up = /^\/v2\/upsync\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && up) return this.upsync(decodeURIComponent(up[1]), req, res);
    res.writeHead(404).end('not found');
  }

  private downsync(category: Category, apiKey: string, url: URL, req: IncomingMessage, res: ServerResponse): void {
    const query = Object.fromEntries(url.searchParams);
    const hit: DownsyncHit = { category, apiKey, query, ifNoneMatch: req.headers['if-none-match'], status: 0 };
    this.downsyncs.push(hit);
    const answer = (status: number) => (hit.status = status);
    if (apiKey !== this.apiKey) {
      answer(401);
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    }
    const fault = this.faults.get(category) ?? { kind: 'serve' };
    const file = this.files.get(category);
    if (fault.kind === 'status') {
      answer(fault.status);
      return void res.writeHead(fault.status).end(fault.body ?? '');
    }
    if (fault.kind === 'replay') {
      answer(fault.answer.status);
      return void res.writeHead(fault.answer.status, fault.answer.headers).end(fault.answer.body);
    }
    if (fault.kind === 'hang') {
      answer(-1);
      this.open.add(res);
      return;
    }
    if (fault.kind === 'redirect') {
      const hops = Number(url.searchParams.get('hop') ?? '0');
      if (hops < fault.count) {
        url.searchParams.set('hop', String(hops + 1));
        answer(302);
        return void res.writeHead(302, { location: `${url.pathname}?${url.searchParams}` }).end();
      }
    }
    if (file === undefined) {
      answer(404);
      return void res.writeHead(404).end('no file');
    }
    const statement = (sha256: string): Record<string, string> => {
      if (this.signingKey === null || !this.statements || fault.kind === 'no-statement') return {};
      const text = `moat-file-v2 site=${fakeSiteTag(apiKey)} category=${category} sha256=${sha256} issued=${Math.floor(this.clock())}`;
      return { 'x-moat-freshness': text, 'x-moat-freshness-signature': sign(null, Buffer.from(text, 'latin1'), this.signingKey).toString('base64') };
    };
    if (query.client_db === file.name || req.headers['if-none-match'] === file.etag) {
      answer(304);
      const headers = { etag: file.etag, ...statement(sha256Hex(file.body)) };
      this.answers.push({ category, apiKey, status: 304, headers, body: Buffer.alloc(0) });
      return void res.writeHead(304, headers).end();
    }
    let body = file.body;
    if (fault.kind === 'garbage') body = Buffer.from('<html>502 Bad Gateway from some proxy</html>'.repeat(40));
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename=${file.name}`, etag: file.etag,
      ...(fault.kind === 'chunked' ? {} : { 'content-length': String(body.length) }), ...statement(sha256Hex(body)),
    };
    if (this.signingKey !== null && fault.kind !== 'no-signature') {
      const other = Buffer.concat([body, Buffer.from('x')]);
      const signed = fault.kind === 'bad-signature' ? other : body;
      if (fault.kind !== 'digest-only') headers['x-moat-signature'] = sign(null, signed, this.signingKey).toString('base64');
      if (fault.kind !== 'full-only') {
        const digestOf = fault.kind === 'bad-signature' || fault.kind === 'bad-digest' ? other : body;
        const message = Buffer.from(`moat-file-sha256:${createHash('sha256').update(digestOf).digest('hex')}`, 'latin1');
        headers['x-moat-digest-signature'] = sign(null, message, this.signingKey).toString('base64');
      }
    }
    answer(200);
    this.answers.push({ category, apiKey, status: 200, headers, body });
    res.writeHead(200, headers);
    if (fault.kind === 'truncate') {
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    if (fault.kind === 'stall-body') {
      this.open.add(res);
      res.write(body.subarray(0, fault.bytes), () => this.onStall?.());
      return;
    }
    res.end(body);
  }

  private upsync(apiKey: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: UpsyncHit = {
        apiKey, contentEncoding: req.headers['content-encoding'], contentType: req.headers['content-type'], body: null, status: 0,
      };
      this.upsyncs.push(hit);
      if (apiKey !== this.apiKey) {
        hit.status = 401;
        return void res.writeHead(401).end();
      }
      if (this.upsyncStatus !== 200) {
        hit.status = this.upsyncStatus;
        return void res.writeHead(this.upsyncStatus).end('down');
      }
      try {
        const raw = Buffer.concat(chunks);
        const inflated = hit.contentEncoding === 'gzip' ? gunzipSync(raw) : raw;
        hit.bytes = inflated.length;
        if (raw.length > this.upsyncMaxBytes || inflated.length > this.upsyncMaxBytes) {
          hit.status = 413;
          return void res.writeHead(413).end('{"error":"payload_too_large"}');
        }
        const text = inflated.toString('utf8');
        if (hit.contentType === COMPACT_TYPE) {
          if (!this.compactUpsync) {
            hit.status = 415;
            return void res.writeHead(415).end('{"error":"unsupported_media_type"}');
          }
          hit.body = expandCompact(JSON.parse(text));
        } else {
          hit.body = JSON.parse(text) as UpsyncHit['body'];
        }
        hit.status = 200;
        const refuse = this.refuseRecord;
        if (refuse === null || hit.body === null) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        const errors = hit.body.batch.map((r, index) => ({ index, refused: refuse(r) })).filter((e) => e.refused);
        hit.body.batch = hit.body.batch.filter((r) => !refuse(r));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          ok: true, accepted: hit.body.batch.length, rejected: errors.length, errors: errors.map((e) => ({ index: e.index, reason: 'invalid' })),
        }));
      } catch {
        hit.status = 400;
        res.writeHead(400).end('bad body');
      }
    });
  }
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The site a freshness statement names, from the API key: written out here as the hub's own code does, as a check of the client's. */
export function fakeSiteTag(apiKey: string): string {
  return createHash('sha256').update(`moat-site:${apiKey}`, 'utf8').digest('hex').slice(0, 32);
}

// ---------- real files ----------

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'moat-sync-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles a rules document into a real Moat rules file; returns its bytes and content hash. */
export function rulesBytes(document: object): { body: Buffer; hash: string; path: string } {
  const { dir, cleanup } = tempDir('moat-rules-');
  try {
    const path = join(dir, 'rules.db');
    const written = writeRulesFile(parseRulesDocument(JSON.stringify(document)), path);
    return { body: readFileSync(path), hash: written.hash, path: '' };
  } finally {
    cleanup();
  }
}

/** Builds a real Moat data file; returns its bytes. */
export function dataBytes(inputs: DataInputs): Buffer {
  const { dir, cleanup } = tempDir('moat-data-');
  try {
    const path = join(dir, 'data.db');
    buildDataFile(inputs, path);
    return readFileSync(path);
  } finally {
    cleanup();
  }
}

/** Waits until `condition` holds, checking every few ms; fails after `timeoutMs` with `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A started hub stand-in serving rules that block /wp-admin, and no data subscription (404): the report tests' hub. */
export async function hubWithWpAdminRules(): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/wp-admin'] } }).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  return hub;
}

/** What the managed firewall's engine in force decides for a GET of `path` (`no-engine` before the first one). */
export function verdict(fw: { readonly currentEngine: { evaluate(request: { ip: string; method: string; host: string; path: string }): { treatment: string; category: string } } | null }, path: string, ip = '192.0.2.10'): string {
  const engine = fw.currentEngine;
  if (engine === null) return 'no-engine';
  const d = engine.evaluate({ ip, method: 'GET', host: 'example.test', path });
  return `${d.treatment}:${d.category}`;
}
