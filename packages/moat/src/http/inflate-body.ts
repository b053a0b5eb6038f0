// Inflating a compressed body for the rules, bounded: at most `limit` inflated bytes are kept and the
// inflater is stopped right after, so a small gzip bomb costs no more than an ordinary body. A body
// that was itself cut at the read limit is inflated as far as its bytes go (sync flush, no error).

import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { ContentCoding } from './body-kind.js';
import type { PeekedBody } from './peek-body.js';

function inflater(coding: Exclude<ContentCoding, 'identity'>): Transform {
  switch (coding) {
    case 'gzip':
      return zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'deflate':
      // zlib-wrapped, as body-parser reads it; raw deflate fails there and here alike.
      return zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    case 'br':
      return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    case 'zstd': {
      const create = (zlib as unknown as { createZstdDecompress: () => Transform }).createZstdDecompress;
      return create();
    }
  }
}

/**
 * The inflated body, `complete` only when the whole compressed body was read and inflated within
 * `limit`. Never rejects: corrupt data yields what inflated before the fault.
 */
export function inflateBody(body: PeekedBody, coding: Exclude<ContentCoding, 'identity'>, limit: number): Promise<PeekedBody> {
  return new Promise((resolve) => {
    const stream = inflater(coding);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (complete: boolean) => {
      if (settled) return;
      settled = true;
      stream.destroy();
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      resolve({ bytes: size > limit ? bytes.subarray(0, limit) : bytes, complete: complete && size <= limit });
    };
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) finish(false);
    });
    stream.on('end', () => finish(body.complete));
    // Corrupt data: judged on what inflated; the app's parser refuses the body as well.
    stream.on('error', () => finish(body.complete));
    stream.end(body.bytes);
  });
}
