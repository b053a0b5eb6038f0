/**
 * An uploaded feed file written to disk as it arrives, hashed and counted chunk by chunk. Fastify's
 * buffering parser copies a whole body into one Buffer when it ends: for a 54 MB upload (4 M
 * addresses, near the feeds' cap) that one copy held the event loop 150–190 ms. Here no step touches
 * more than one socket chunk at a time.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { HttpError } from '../server/http-error.js';

export interface ReceivedUpload {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * Writes `body` to `file` (which must not exist), refusing it with 413 `too_large` once it passes
 * `maxBytes`: the part written is removed and the rest of the body is left unread (Node drops it when
 * the answer is sent). A body cut off before its end rejects too, and leaves no file.
 */
export async function receiveUpload(body: Readable, file: string, maxBytes: number): Promise<ReceivedUpload> {
  const out = createWriteStream(file, { flags: 'wx' });
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const stop = (error?: Error) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onClose);
        body.off('close', onClose);
        body.pause();
        if (error) reject(error);
        else resolve();
      };
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes) return stop(new HttpError(413, `the file is over the ${maxBytes}-byte limit (feeds.maxBytes)`, 'too_large'));
        hash.update(chunk);
        // The disk sets the pace: a body is never held in memory faster than it is written.
        if (!out.write(chunk)) {
          body.pause();
          out.once('drain', () => {
            if (!settled) body.resume();
          });
        }
      };
      const onEnd = () => stop();
      // The client went away (the request's `error` is Node's `aborted`): its fault, not the hub's.
      const onClose = () => stop(new HttpError(400, 'the upload was cut off before its end', 'invalid_feed'));
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onClose);
      body.once('close', onClose);
      // Kept for good: a write still in flight when the copy is destroyed fails afterwards, and an
      // error with no listener would be thrown out of the hub.
      out.on('error', stop);
    });
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(() => resolve());
    });
  } catch (error) {
    out.destroy();
    await rm(file, { force: true });
    throw error;
  }
  return { file, bytes, sha256: hash.digest('hex') };
}
