/** What the serving thread asks the load worker, and what comes back. */
import type { DataMode } from '../data/data-set.js';
import type { PackedDataSet } from './data-transfer.js';
import type { PackedRuleSet } from './rules-transfer.js';

/**
 * `verify`: the checks verifyDownload makes (header, signature when a key is set, quick_check), run
 * first in the same worker; null for a file checked when it was installed (one another process downloaded).
 */
export type LoadJob = (
  | { kind: 'data'; path: string; mode: DataMode; verify: VerifyRequest | null }
  | { kind: 'rules'; path: string; verify: VerifyRequest | null }
) & {
  /** Test seam (loadWorkerWatch.hold): the worker waits until its first element is not 0. Null in production. */
  hold: Int32Array | null;
};

export interface VerifyRequest {
  publicKeyDer: Uint8Array | null;
  signature: string | null;
}

export type LoadOutcome =
  /** A data set held in memory, packed for the move. */
  | { ok: true; data: PackedDataSet }
  /** A Moat data file in light mode: checked, to be opened in place by the serving thread (nothing to load). */
  | { ok: true; light: true }
  /** A compiled rule set, packed for the move. */
  | { ok: true; rules: PackedRuleSet }
  /** `verify`: a check failed (reason as verifyDownload's); `load`: the loader refused the file (reason: its error code). */
  | { ok: false; stage: 'verify' | 'load'; reason: string; message: string };
