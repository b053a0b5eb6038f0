// A feed upload (PUT /api/feeds/:feedId/file) is written to disk as it arrives, never held whole on the
// event loop: a copy grows while the client is still sending. Bounded by feeds.maxBytes: a declared
// length over it is refused before any byte is read, a chunked body as it passes it; a refused or cut-off
// upload leaves no file behind and the source's copy in use unchanged.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FeedSource } from '../../src/store/feed-records.js';
import { startHubWithSite, type Client, type TestHub } from '../support/hub-fixture.js';
import { until } from '../support/until.js';

const MAX_BYTES = 256 * 1024;

/** Addresses as a feed file, `count` lines of them. */
function addresses(count: number, from = 0): string {
  return Array.from({ length: count }, (_, i) => `10.${((from + i) >> 16) & 255}.${((from + i) >> 8) & 255}.${(from + i) & 255}`).join('\n') + '\n';
}

describe('feed uploads streamed to disk', () => {
  let hub: TestHub;
  let client: Client;
  let source: FeedSource;
  const feedsDir = () => join(hub.dataDir, 'feeds');
  const uploads = () => readdirSync(feedsDir()).filter((name) => name.includes('.upload-'));

  before(async () => {
    ({ hub, client } = await startHubWithSite('uploads', { feeds: { maxBytes: MAX_BYTES, tickMs: 3_600_000 } }));
    const created = await client.api('POST', '/api/feeds?wait=1', { name: 'blocklist', format: 'ip-list', origin: 'upload', list: 'blocklist', content: '192.0.2.1\n' });
    ({ source } = (await created.json()) as { source: FeedSource });
  });
  after(() => hub.stop());

  /** A raw PUT with the session's cookie and CSRF token; the caller writes the body. */
  function openUpload(headers: Record<string, string>): { socket: Socket; answer: Promise<string> } {
    const url = new URL(hub.url);
    const socket = connect(Number(url.port), url.hostname);
    const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let head = `PUT /api/feeds/${source.id}/file?wait=1 HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: text/plain\r\ncookie: ${cookie}\r\nx-csrf-token: ${client.csrf}\r\nconnection: close\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    socket.write(`${head}\r\n`);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
      socket.on('close', () => resolve(text));
      socket.on('error', () => undefined);
    });
    return { socket, answer };
  }

  async function current(): Promise<FeedSource> {
    return ((await (await client.api('GET', `/api/feeds/${source.id}`)).json()) as { source: FeedSource }).source;
  }

  it('writes the copy while the client is still sending, then checks and uses it', async () => {
    const text = addresses(3000);
    const half = Math.floor(text.length / 2);
    const { socket, answer } = openUpload({ 'content-length': String(Buffer.byteLength(text)) });
    socket.write(text.slice(0, half));
    // The first half is on disk before the second is sent: nothing waited for the whole body.
    await until(() => uploads().some((name) => statSync(join(feedsDir(), name)).size >= half), 'the first half written to the upload copy');
    // Written, not ended: a half-closed client is dropped by Node's server before it answers.
    socket.write(text.slice(half));
    const response = await answer;
    assert.match(response, /^HTTP\/1\.1 200/);
    const stored = await current();
    assert.deepEqual([stored.status, stored.entries, stored.bytes, stored.sha256],
      ['ok', 3000, Buffer.byteLength(text), createHash('sha256').update(text).digest('hex')], stored.lastError ?? '');
    assert.deepEqual(uploads(), [], 'the copy became the source\'s good copy');
  });

  it('refuses a declared length over feeds.maxBytes before reading a byte of it', async () => {
    const before = await current();
    const { socket, answer } = openUpload({ 'content-length': String(MAX_BYTES + 1) });
    // Nothing of the body is sent: the answer comes anyway.
    const response = await answer;
    socket.destroy();
    assert.match(response, /^HTTP\/1\.1 413/);
    assert.match(response, /too_large/);
    assert.deepEqual(uploads(), []);
    assert.equal((await current()).sha256, before.sha256);
  });

  it('refuses a chunked body as it passes feeds.maxBytes, and removes what it wrote', async () => {
    const before = await current();
    const { socket, answer } = openUpload({ 'transfer-encoding': 'chunked' });
    const line = addresses(1000);
    let sent = 0;
    // Chunks until the hub answers; each write waits for the socket, so this stops soon after the cap.
    socket.on('close', () => { sent = -1; });
    while (sent >= 0 && sent <= MAX_BYTES * 2) {
      const ok = socket.write(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
      sent += Buffer.byteLength(line);
      if (!ok) await new Promise((resolve) => socket.once('drain', resolve));
      if (sent > MAX_BYTES + 4 * Buffer.byteLength(line)) break;
    }
    if (sent >= 0) socket.write('0\r\n\r\n');
    const response = await answer;
    assert.match(response, /^HTTP\/1\.1 413/);
    await until(() => uploads().length === 0, 'the partial copy removed');
    const after = await current();
    assert.deepEqual([after.sha256, after.entries], [before.sha256, before.entries]);
  });

  it('a client that stops mid-upload leaves no copy and the source unchanged', async () => {
    const before = await current();
    const text = addresses(2000, 50_000);
    const { socket } = openUpload({ 'content-length': String(Buffer.byteLength(text)) });
    socket.write(text.slice(0, 1000));
    await until(() => uploads().length > 0, 'the upload copy opened');
    socket.destroy();
    await until(() => uploads().length === 0, 'the cut-off copy removed');
    const after = await current();
    assert.deepEqual([after.sha256, after.entries], [before.sha256, before.entries]);
  });
});
