// Counting what the serving thread wrote into a managed firewall's report ring, for the tests that prove a
// shortcut (a repeat entry, a status folded into the next entry) was taken or avoided.
import assert from 'node:assert/strict';
import type { ManagedFirewall } from '../../src/managed/managed-firewall.js';
import { WRITE_POS, type RingViews } from '../../src/report/ring-layout.js';

/** Entries of `kind` (ENTRY_REPEAT, ENTRY_STATUS…) written so far; the ring must not have wrapped yet. */
export function ringEntries(fw: ManagedFirewall, kind: number): number {
  const ring = (fw as unknown as { upsync: { ring: RingViews } }).upsync.ring;
  const end = Atomics.load(ring.header, WRITE_POS);
  assert.ok(end < ring.capacity, 'the ring has not wrapped');
  let entries = 0;
  // Word 0 of an entry is its kind, word 1 its length in bytes.
  for (let pos = 0; pos < end; pos += ring.words[(pos >> 2) + 1]!) if (ring.words[pos >> 2] === kind) entries++;
  return entries;
}
