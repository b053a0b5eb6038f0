import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { FileSignature } from './file-signature.js';

/**
 * The worker's code, plain CommonJS so it runs the same from the TypeScript sources (tsx) and from
 * dist: on Node 20 a worker does not inherit tsx's loader, so a `.ts` worker entry would not load.
 * It reads the file through the parent's descriptor (descriptors are per process) with positional
 * reads, then hashes and signs.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash, sign } = require('node:crypto');
const { readSync } = require('node:fs');
const { fd, size, key } = workerData;
const bytes = Buffer.allocUnsafe(size);
let offset = 0;
while (offset < size) {
  const read = readSync(fd, bytes, offset, size - offset, offset);
  if (read === 0) throw new Error('file shrank while it was read for signing (' + offset + ' of ' + size + ' bytes)');
  offset += read;
}
const sha256 = createHash('sha256').update(bytes).digest('hex');
parentPort.postMessage({
  size,
  sha256,
  signature: sign(null, bytes, key).toString('base64'),
  // As digestMessage() in file-signature.ts builds it.
  digestSignature: sign(null, Buffer.from('moat-file-sha256:' + sha256, 'latin1'), key).toString('base64'),
});
`;

/** Signs a big file in a worker of its own (one per built file, so its start-up cost is paid rarely). */
export function signInWorker(privateKey: KeyObject, fd: number, size: number): Promise<FileSignature> {
  return new Promise((resolve, reject) => {
    // The key travels as a KeyObject (cloned into the worker), never as exported text.
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd, size, key: privateKey } });
    let settled = false;
    worker.once('message', (signature: FileSignature) => {
      settled = true;
      resolve(signature);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the signing worker stopped (exit code ${code}) before it answered`));
    });
  });
}
