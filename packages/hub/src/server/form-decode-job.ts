/**
 * Decodes a large dashboard form (a rules import of megabytes) in a worker thread (form-body.ts): over a
 * 5 MB import, URLSearchParams took 80–120 ms of the event loop. Fields come back as pairs, rebuilt into a
 * null-prototype object on the hub's side (an object cloned across threads would get a prototype again).
 */
import { formPairs } from './form-body.js';

export function run(input: { bytes: Uint8Array }): [string, string][] {
  return formPairs(Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength).toString('utf8'));
}
