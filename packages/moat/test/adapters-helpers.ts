// Shared by the http/adapters/firewall tests: real rule files in temp dirs, and a raw-socket HTTP client
// so tests control the exact bytes (HTTP clients normalise paths; attackers do not).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { writeRulesFile } from '../src/format/write-rules.js';
import { parseRulesDocument } from '../src/rules/document.js';

/** Writes a rules document to a real rules file in a fresh temp dir; returns its path and a cleanup. */
export function rulesFile(document: object): { path: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'moat-test-'));
  const path = join(dir, 'rules.moat');
  writeRulesFile(parseRulesDocument(JSON.stringify(document)), path);
  return { path, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The rules most adapter tests use. */
export const STANDARD_RULES = {
  block: { paths: ['/wp-admin'], params: ['<script'], userAgents: ['evilbot'], ips: ['203.0.113.66'] },
  rateLimits: [{ path: '/login', method: 'POST', limit: 2, window: '60s' }],
};

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
}

function decodeChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  for (let guard = 0; guard < 100_000 && i < body.length; guard++) {
    const lineEnd = body.indexOf('\r\n', i);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(i, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    i = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Sends `bytes` as they are on a new connection to host:port and reads the whole response. */
export function rawRequest(port: number, bytes: string | Buffer, host = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no response head: ${raw.toString('latin1').slice(0, 200)}`));
      const [statusLine, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = raw.subarray(split + 4);
      if (headers['transfer-encoding'] === 'chunked') body = decodeChunked(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') });
    });
    socket.end(bytes);
  });
}

export interface RequestSpec {
  method?: string;
  /** Sent exactly as given. */
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Connect to this address (default 127.0.0.1). */
  host?: string;
}

/** An HTTP/1.1 request with Connection: close, built byte for byte. */
export function send(port: number, spec: RequestSpec = {}): Promise<RawResponse> {
  const method = spec.method ?? 'GET';
  const headers: Record<string, string> = { host: 'example.test', connection: 'close', ...spec.headers };
  const body = spec.body === undefined ? undefined : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body);
  if (body !== undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(body.length);
  let head = `${method} ${spec.path ?? '/'} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const bytes = Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
  return rawRequest(port, bytes, spec.host);
}

/** A form body big enough to arrive in several chunks, with a marker at the end. */
export function bigForm(fields: number): string {
  const parts: string[] = [];
  for (let i = 0; i < fields; i++) parts.push(`field${i}=${'v'.repeat(50)}%20${i}`);
  parts.push('last=the+end');
  return parts.join('&');
}
