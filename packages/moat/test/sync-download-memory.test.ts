// A download holds what it is reading, not what it has read: a data file of hundreds of MiB must not sit
// in memory while (or after) it is streamed to disk. Measured as the ArrayBuffer memory still reachable
// after a full collection, against a real HTTP server on 127.0.0.1 (the same steps run in the downsync worker).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { downloadBody } from '../src/sync/download-body.js';
import { timedFetch } from '../src/sync/http-fetch.js';
import { tempDir } from './helpers/fake-hub.js';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const MiB = 2 ** 20;
const BODY_BYTES = 48 * MiB;

test('a 48 MiB download keeps a few MiB reachable while it runs, not the body, and not after it', async () => {
  // The server in a process of its own: its buffers must not count as the client's.
  const server = spawn(process.execPath, ['-e', `
    const body = Buffer.alloc(${BODY_BYTES}, 'moat');
    const server = require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    }).listen(0, '127.0.0.1', () => console.log(server.address().port));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout!.setEncoding('utf8'), 'data') as [string];
  const port = Number(line.trim());
  const { dir, cleanup } = tempDir();
  try {
    collect();
    const base = process.memoryUsage().arrayBuffers;
    const timed = await timedFetch(`http://127.0.0.1:${port}/`, {
      idleTimeoutMs: 30_000, totalTimeoutMs: 120_000, maxRedirects: 0,
    });
    let chunks = 0;
    const samples: number[] = [];
    const saved = await downloadBody(timed, join(dir, 'a.part'), BODY_BYTES, () => {
      if (++chunks % 64 !== 0) return;
      collect();
      samples.push(process.memoryUsage().arrayBuffers - base);
    });
    timed.dispose();
    assert.equal(saved.size, BODY_BYTES);
    assert.ok(samples.length >= 4, `${chunks} chunks: enough samples`);
    // What was read piles up linearly when it is kept (before the fix in http-fetch.ts, within(): half the
    // body, ~24–30 MiB, at the median sample); a sample may also catch the socket's buffering when the disk lags.
    const median = samples.sort((a, b) => a - b)[samples.length >> 1]!;
    assert.ok(median < 16 * MiB, `reachable during the download, median of ${samples.length} samples: ${(median / MiB).toFixed(1)} MiB`);
    // The socket's last buffers may outlive the exchange by a turn or two; a kept body is all 48 MiB.
    await new Promise((resolve) => setTimeout(resolve, 100));
    collect();
    collect();
    const after = process.memoryUsage().arrayBuffers - base;
    assert.ok(after < 16 * MiB, `reachable after it: ${(after / MiB).toFixed(1)} MiB`);
  } finally {
    server.kill();
    cleanup();
  }
});
