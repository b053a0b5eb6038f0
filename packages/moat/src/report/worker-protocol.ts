// Messages between the serving thread and the report worker. None is sent per record: records travel
// through the shared ring; these carry commands (flush, close) and what status() shows beyond numbers.
import type { HubFailoverStatus } from '../sync/hub-failover.js';
import type { CompactMeta } from './compact-encoding.js';
import type { ReportSettings, UpsyncRejections } from './report-sender.js';

/** What the worker is started with (structured-cloned; the ring is shared, not copied). */
export interface ReportWorkerData extends ReportSettings {
  sab: SharedArrayBuffer;
  /** The first 24 characters of generated request ids. */
  idPrefix: string;
  hubUrls: readonly string[];
}

export type ToWorker =
  | { type: 'flush'; id: number }
  | { type: 'close'; id: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'flushed'; id: number }
  | { type: 'closed'; id: number }
  | { type: 'state'; lastError: string | null; rejected: UpsyncRejections; hubs: HubFailoverStatus }
  | { type: 'error'; reason: string; message: string }
  | { type: 'unauthorized'; reason: string; message: string }
  | { type: 'switch'; from: string; to: string; message: string };
