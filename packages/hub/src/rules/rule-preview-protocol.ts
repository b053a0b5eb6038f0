import type { MessagePort } from 'node:worker_threads';
import type { TrafficSummaryResult, TrafficSummaryState } from 'moat-waf/replay';
import type { ClientHalf, ReportScanSource } from '../store/report-scan.js';
import type { PreviewWorkerMessage } from './preview-jobs.js';

/** What the preview worker is started with. */
export interface PreviewWorkerInput {
  source: ReportScanSource;
  siteId: number;
  /** Unix seconds, [from, to): this worker's part of the job's range. */
  from: number;
  to: number;
  /** The draft compiled by the hub's rule compiler, as clients get it. */
  rulesFile: string;
  /** The data file clients get (country, ASN and list rules need it). */
  dataFile?: string;
  pageSize: number;
  /** Memory for the replayed rate limits. */
  rateLimitBytes: number;
  /** Set when the job is split by client (a rate limit): the half of the clients this worker replays. */
  clientHalf?: ClientHalf;
  /**
   * When the job is split between two workers (the range's halves in time, or the clients' halves): the
   * first part's worker `merge`s the second part's counts, which arrive on this port, and reports the
   * whole; the second part's worker `send`s them.
   * The counts go worker to worker, so the hub's event loop never copies the big sets of IPs.
   */
  peer?: { role: 'merge' | 'send'; port: MessagePort };
}

/** What the later part's worker sends the earlier part's. */
export interface PreviewPartCounts {
  scanned: number;
  summary: TrafficSummaryState;
  rateLimitEvictedLive: number;
  scanMs: number;
}

/** The whole job's counts (both parts when split); `scanMs` is the slower part's. */
export interface PreviewDone {
  summary: TrafficSummaryResult;
  rateLimitEvictedLive: number;
  scanMs: number;
}

export type RulePreviewWorkerMessage = PreviewWorkerMessage<PreviewDone>;
