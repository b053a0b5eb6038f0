/**
 * "Whom would this threshold rule have banned?": a draft threshold rule replayed over a site's stored
 * reports in worker threads (threshold-preview-worker.ts) by the hub's own evaluator and ban policy
 * (threshold-preview-backtest.ts), on the job table both previews share (rules/preview-jobs.ts). Two
 * workers count the two halves of the keys when that gives one pass's figures (threshold-preview-split.ts).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { IpRange } from 'moat-waf/ip';
import { PreviewJobs, type PreviewJobView, type PreviewWorkerMessage } from '../rules/preview-jobs.js';
import type { ClientHalf, ReportScanSource } from '../store/report-scan.js';
import { isReportedKeyKind } from './ban-key.js';
import type { HubStore } from '../store/store.js';
import type { BacktestOptions, ThresholdBacktestResult } from './threshold-preview-backtest.js';
import { splittableByKey } from './threshold-preview-split.js';
import type { ThresholdRuleInput } from './threshold-types.js';

/** Scans running at once across all sites (the rule preview has slots of its own). */
const MAX_RUNNING = 1;
const PAGE_SIZE = 5000;

export interface ThresholdPreviewResult extends ThresholdBacktestResult {
  /** Whether stored reports carry the hashed keys; when not, a header/cookie/user rule counted every report by its IP. */
  keysStored: boolean;
  /** Milliseconds the worker spent reading and counting, without its start-up. */
  scanMs: number;
}

/** A job as the API shows it: two parts (the keys' halves), or one for drafts that need one pass (splittableByKey). */
export type ThresholdPreviewJobView = PreviewJobView<ThresholdRuleInput, ThresholdPreviewResult>;

export interface ThresholdPreviewWorkerInput {
  source: ReportScanSource;
  siteId: number;
  from: number;
  to: number;
  pageSize: number;
  /** The draft as replayed (its status condition too: reports store the status, null when none was reported). */
  rule: ThresholdRuleInput;
  options: BacktestOptions;
  /** Set when the job is split: this worker's half of the keys. */
  half?: ClientHalf;
  /** With `half`: the port to the other part; the `merge` part judges both parts' crossings. */
  peer?: { role: 'merge' | 'send'; port: MessagePort };
}

export type ThresholdPreviewWorkerMessage = PreviewWorkerMessage<{ result: ThresholdPreviewResult }>;

export interface ThresholdPreviewOptions {
  store: HubStore;
  now: () => number;
  /** The site's allow rules by IP, as the ban service reads them. */
  allowRanges: (siteId: number) => Promise<IpRange[]>;
  /** The ban service's caps, so the replay refuses what the hub would. */
  maxActiveBans: number;
  maxCounterKeys: number;
}

/** The threshold previews of all sites; start, get, cancel and close as PreviewJobs. */
export class ThresholdPreviews extends PreviewJobs<ThresholdRuleInput, ThresholdPreviewWorkerInput, { result: ThresholdPreviewResult }, ThresholdPreviewResult> {
  constructor(options: ThresholdPreviewOptions) {
    super({
      worker: new URL('./threshold-preview-worker', import.meta.url),
      maxRunning: MAX_RUNNING,
      prepare: async (rule, scan) => splitByKey({
        source: scan.source, siteId: scan.siteId, from: scan.from, to: scan.to, pageSize: PAGE_SIZE, rule,
        options: { allowRanges: await options.allowRanges(scan.siteId), maxActiveBans: options.maxActiveBans, maxCounterKeys: options.maxCounterKeys },
      }),
      result: (_rule, done) => done.result,
    }, options);
  }
}

/**
 * The keys' two halves, each counted over the whole range by a worker of its own; a draft whose figures
 * need one pass stays whole. Each half gets the whole counter budget: below it neither evicts, as one
 * pass does not, so the figures are one pass's.
 */
function splitByKey(input: ThresholdPreviewWorkerInput): ThresholdPreviewWorkerInput[] {
  if (!splittableByKey(input.rule)) return [input];
  const keyKind = isReportedKeyKind(input.rule.key) ? input.rule.key : undefined;
  const { port1, port2 } = new MessageChannel();
  return [
    { ...input, half: { half: 0, keyKind }, peer: { role: 'merge', port: port1 } },
    { ...input, half: { half: 1, keyKind }, peer: { role: 'send', port: port2 } },
  ];
}
