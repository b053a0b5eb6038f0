import type { FileHandle } from 'node:fs/promises';
import { createHash, sign, type KeyObject } from 'node:crypto';
import { signInWorker } from './sign-file-worker.js';

/** What a served file's bytes were hashed and signed as. */
export interface FileSignature {
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  /** Base64 ed25519 signature over the bytes, as sent in `X-Moat-Signature`. */
  signature: string;
  /** Base64 ed25519 signature over `moat-file-sha256:<sha256>`, as sent in `X-Moat-Digest-Signature`. */
  digestSignature: string;
}

/**
 * What `X-Moat-Digest-Signature` signs: the file's SHA-256, which a client computes as the bytes arrive,
 * so it verifies a 500 MB data file without reading it into memory again. Prefixed, so it can never be
 * taken for the signature of a file's own bytes.
 */
export function digestMessage(sha256: string): Buffer {
  return Buffer.from(`moat-file-sha256:${sha256}`, 'latin1');
}

/**
 * Files up to this size are read and signed on the calling thread: ed25519 hashes the message twice
 * with SHA-512, about 0.5 ms for 256 KiB here, which a rules file rarely reaches. Bigger files (data
 * files run to hundreds of MB) go to a worker so that no download stalls the event loop.
 */
export const INLINE_SIGN_MAX_BYTES = 256 * 1024;

/**
 * Hashes and signs the first `size` bytes of an open file, through its descriptor, so the signature is
 * of the bytes that descriptor will serve even if another file is renamed over the path meanwhile.
 * ed25519 (as clients verify it) signs a whole message, so the bytes are held in memory once.
 */
export async function signOpenFile(privateKey: KeyObject, handle: FileHandle, size: number): Promise<FileSignature> {
  if (size > INLINE_SIGN_MAX_BYTES) return signInWorker(privateKey, handle.fd, size);
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const { bytesRead } = await handle.read(bytes, offset, size - offset, offset);
    if (bytesRead === 0) throw new Error(`file shrank while it was read for signing (${offset} of ${size} bytes)`);
    offset += bytesRead;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    size, sha256,
    signature: sign(null, bytes, privateKey).toString('base64'),
    digestSignature: sign(null, digestMessage(sha256), privateKey).toString('base64'),
  };
}
