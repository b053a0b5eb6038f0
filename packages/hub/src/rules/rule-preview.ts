/**
 * "What would this rule have blocked?": a draft rule replayed against a site's stored reports by the
 * clients' own engine (compiled by the hub's rule compiler, evaluated in a worker thread, see
 * rule-preview-worker.ts), on the job table both previews share (preview-jobs.ts).
 */
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { formatRateLimitKey, type RateLimitKey } from 'moat-waf';
import type { TrafficSummaryResult } from 'moat-waf/replay';
import { compileMoatRules, unsafeRuleProblems, type Rule } from '../distribution/compile.js';
import { findDataFile } from '../distribution/data-files.js';
import { HttpError } from '../server/http-error.js';
import type { HubStore } from '../store/store.js';
import { PreviewJobs, type PreviewJobView, type PreviewRange, type PreviewScan } from './preview-jobs.js';
import type { PreviewDone, PreviewWorkerInput } from './rule-preview-protocol.js';

/** Scans running at once across all sites: the machine's cores also serve requests. */
const MAX_RUNNING = 2;
/** Reports per keyset page: large enough that per-query cost vanishes, small enough to bound memory (~1.5 MB). */
const PAGE_SIZE = 5000;
/**
 * Workers per scan, one per core, their counts merged (a 1 M-report scan in about half the wall time).
 * When a decision depends on the request alone (no rate limit, no expiry) the range's two halves in
 * time are scanned at once. A rate limit needs each client's requests in time order, but clients count
 * apart, so its two workers each replay the whole range for half of the clients (split inside the
 * database by the reports' IP text, or for a keyed limit by the key's hash where a report carries it,
 * see ClientHalf): exactly the counts of one pass.
 */
const SPLIT_PARTS = 2;
const RATE_LIMIT_BYTES = 64 * 1024 * 1024;
/** Kinds that look the client's IP up in the data file. */
const DATA_KINDS = new Set<Rule['kind']>(['country', 'asn', 'list']);

export interface PreviewResult extends TrafficSummaryResult {
  /** Matched requests this rule would change: recorded Passed or Allowed for a block rule, Blocked for an allow rule. */
  wouldChange: number;
  /** Rate-limit clients forgotten early for want of memory (their counts restarted); 0 normally. */
  rateLimitEvictedLive: number;
  /** Milliseconds the worker spent reading and judging, without its start-up. */
  scanMs: number;
}

/** A job as the API shows it; `parts` is 2 (the range's halves in time, or the clients' halves for a rate limit) or 1. */
export type RulePreviewJobView = PreviewJobView<Rule, PreviewResult>;

export interface RulePreviewOptions {
  store: HubStore;
  /** The hub's data-files folder, for the data file clients get. */
  dataFilesDir?: string;
  /** Milliseconds. */
  now: () => number;
}

/** The rule previews of all sites; get, cancel and close as PreviewJobs. */
export class RulePreviews extends PreviewJobs<Rule, PreviewWorkerInput, PreviewDone, PreviewResult> {
  constructor(options: RulePreviewOptions) {
    super({
      worker: new URL('./rule-preview-worker', import.meta.url),
      maxRunning: MAX_RUNNING,
      prepare: (rule, scan) => workerInputs(rule, scan, options.dataFilesDir),
      result: (rule, done) => {
        const recorded = done.summary.matched.recorded;
        return {
          ...done.summary,
          wouldChange: rule.action === 'allow' ? recorded.Blocked : recorded.Passed + recorded.Allowed,
          rateLimitEvictedLive: done.rateLimitEvictedLive,
          scanMs: Math.round(done.scanMs),
        };
      },
    }, options);
  }

  /**
   * Starts a preview of `rule` (already validated) over the last `range`, ending the site's previous job.
   * 400 for a rule clients would never get; 429 when other sites' previews fill every slot.
   */
  override async start(siteId: number, rule: Rule, range: PreviewRange): Promise<RulePreviewJobView> {
    const problems = unsafeRuleProblems(rule);
    if (problems.length > 0) throw new HttpError(400, problems.join('; '), 'invalid_rule');
    return super.start(siteId, rule, range);
  }
}

/** The draft compiled as clients get it, and the scan's parts (split in time, by client, or whole). */
async function workerInputs(rule: Rule, scan: PreviewScan, dataFilesDir: string | undefined): Promise<PreviewWorkerInput[]> {
  const dataFile = DATA_KINDS.has(rule.kind) ? (await findDataFile(dataFilesDir, 'moat'))?.path : undefined;
  if (DATA_KINDS.has(rule.kind) && !dataFile) throw new Error(`${rule.kind} rules need the hub's data file, and there is none`);
  const rulesFile = compileMoatRules([rule], join(scan.tempDir(), 'rules.db')).path;
  const input: PreviewWorkerInput = {
    source: scan.source, siteId: scan.siteId, from: scan.from, to: scan.to, rulesFile, dataFile, pageSize: PAGE_SIZE, rateLimitBytes: RATE_LIMIT_BYTES,
  };
  return splittableInTime(rule) ? splitInTime(input) : rule.kind === 'rateLimit' ? splitByClient(input, rule.rateLimit.key) : [input];
}

/** True when each report's decision depends on that report alone, so parts of the range may be judged apart. */
function splittableInTime(rule: Rule): boolean {
  return rule.kind !== 'rateLimit' && rule.expires === undefined;
}

/**
 * The clients' two halves (ClientHalf), each replayed over the whole range by a worker of its own. A
 * keyed limit counts a key across every address that sends it, and by IP where a report has no key, so
 * its halves go by the key's hash, else by IP. Exact, except that the clients' engines cap keyed counters
 * per address (maxKeysPerClient, 1,024): an address sending more keys than that within the range drops
 * its oldest counters in one pass, at a different point when its keys are split.
 */
function splitByClient(input: PreviewWorkerInput, key: RateLimitKey | undefined): PreviewWorkerInput[] {
  if (SPLIT_PARTS < 2) return [input];
  const { port1, port2 } = new MessageChannel();
  // Each half's rate limits hold only its own clients: half the memory each.
  const rateLimitBytes = Math.floor(input.rateLimitBytes / 2);
  const keyKind = key === undefined ? undefined : formatRateLimitKey(key);
  return [
    { ...input, rateLimitBytes, clientHalf: { half: 0, keyKind }, peer: { role: 'merge', port: port1 } },
    { ...input, rateLimitBytes, clientHalf: { half: 1, keyKind }, peer: { role: 'send', port: port2 } },
  ];
}

/** The range's halves in time, for two workers that meet over a port: the earlier one merges. */
function splitInTime(input: PreviewWorkerInput): PreviewWorkerInput[] {
  if (SPLIT_PARTS < 2 || input.to - input.from < 2) return [input];
  const middle = input.from + Math.floor((input.to - input.from) / 2);
  const { port1, port2 } = new MessageChannel();
  return [
    { ...input, to: middle, peer: { role: 'merge', port: port1 } },
    { ...input, from: middle, peer: { role: 'send', port: port2 } },
  ];
}
