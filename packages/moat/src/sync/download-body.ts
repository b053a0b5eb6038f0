// Streams a response body into a temporary file, hashing as it goes, refusing bodies over a size
// bound or shorter than their Content-Length. The file is never the current one: the caller verifies
// it and only then renames it into place.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { syncUnlessRefused } from '../format/fsync.js';
import { fetchError, type TimedResponse } from './http-fetch.js';
import { FILE_MODE } from './sync-dir-files.js';
import { SyncError } from './sync-error.js';

export interface DownloadedBody {
  sha256: string;
  size: number;
}

/** `limitName`: the option that set `maxBytes`, named in the error. */
export async function downloadBody(
  timed: TimedResponse, tmpPath: string, maxBytes: number, onChunk: () => void, limitName = 'maxDownloadBytes',
): Promise<DownloadedBody> {
  const { response } = timed;
  const declared = response.headers.get('content-length');
  const expected = declared !== null && /^\d+$/.test(declared) ? Number(declared) : null;
  if (expected !== null && expected > maxBytes) {
    if (response.body !== null) await timed.within(response.body.cancel().catch(() => {}));
    throw new SyncError('too-large', `the hub offers ${expected} bytes, more than the ${maxBytes} allowed (${limitName})`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const file = await open(tmpPath, 'wx', FILE_MODE);
  try {
    if (response.body === null) throw new SyncError('empty', 'the hub answered 200 without a body');
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value: chunk } = await timed.within(reader.read());
        if (done) break;
        timed.activity();
        size += chunk.byteLength;
        if (size > maxBytes) throw new SyncError('too-large', `download exceeds the ${maxBytes} bytes allowed (${limitName})`);
        hash.update(chunk);
        await file.write(chunk);
        onChunk();
      }
    } catch (error) {
      // Not awaited: the body of an aborted fetch may never settle (http-fetch.ts, within).
      reader.cancel().catch(() => {});
      throw fetchError(error, timed.signal, timed.url);
    }
    if (expected !== null && size !== expected) {
      throw new SyncError('truncated', `download ended after ${size} of ${expected} bytes`);
    }
    await syncUnlessRefused(file); // the rename into place must not land before the bytes do
  } finally {
    await file.close();
  }
  return { sha256: hash.digest('hex'), size };
}
