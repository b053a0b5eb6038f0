/**
 * The backtests over a bench hub's stored reports, through the real API, over the last 24 hours: the rule
 * preview of a draft path rule, a draft rate limit by IP and a draft rate limit keyed by `header:x-api-key`
 * (counted per stored key hash, by IP where a report has none), then the threshold preview of a draft
 * auto-ban rule. The bench first opens the rules page, as a user does before a preview: that starts the
 * hub's warm preview workers, and `workersStartMs` is their start-up (from sources through tsx, about a
 * second; a built hub still loads the modules), paid once per hub process, not per preview. `jobMs` is what the dashboard
 * then waits, from the POST to the final result (polled every 50 ms); `scanMs` is the workers' reading and judging
 * (the slower part's: a draft without a rate limit is scanned as the range's two halves in time, a rate
 * limit as the clients' two halves (by IP, or by the key's hash where a report carries it), a threshold
 * rule as the keys' two halves whose crossings are then judged in order; `parts` says how many). `progressSteps` counts the distinct progress values the page would have shown while
 * polling. Wall-clock: the machine's load average is logged beside it.
 */
import { loadavg } from 'node:os';
import type { Hub } from '../packages/hub/src/index.js';
import { previewWorkers } from '../packages/hub/src/rules/preview-pool.js';
import type { HubStore } from '../packages/hub/src/store/store.js';

export interface PreviewTiming {
  /** Which preview: the rule preview (any rule kind) or the threshold (auto-ban) preview. */
  preview: 'rule' | 'threshold';
  rule: string;
  /** Reports the hub held (the range covers them all). */
  storedReports: number;
  scanned: number;
  matched: number;
  /** Workers that scanned the range at once. */
  parts: number;
  /** From the POST to the final result, on the warm workers: what the user waits. */
  jobMs: number;
  scanMs: number;
  /**
   * The preview workers' start-up when the rules page opened (before the first preview of the set;
   * the same for every row of one hub); 0 when they were already up.
   */
  workersStartMs: number;
  reportsPerSecond: number;
  /** Distinct progress values seen while the job ran (polled every 50 ms). */
  progressSteps: number;
}

interface Job {
  id: string;
  state: string;
  scanned: number;
  progress: number;
  parts?: number;
  error?: string;
  result?: { scanMs: number; matched: number | { requests: number }; bans?: number };
}

const DRAFTS: { preview: PreviewTiming['preview']; name: string; rule: unknown }[] = [
  { preview: 'rule', name: 'path contains /p/1/', rule: { kind: 'path', value: '/p/1/' } },
  { preview: 'rule', name: 'rate limit /p/0/view 5 per minute', rule: { kind: 'rateLimit', rateLimit: { path: '/p/0/view', limit: 5, window: '1m' } } },
  {
    preview: 'rule', name: 'rate limit /p/0/view 5 per minute by header:x-api-key',
    rule: { kind: 'rateLimit', rateLimit: { path: '/p/0/view', limit: 5, window: '1m', key: 'header:x-api-key' } },
  },
  {
    preview: 'threshold', name: 'threshold: 20 requests to /p/0 in 60 s by IP, enforce',
    rule: {
      name: 'bench flood', condition: { requests: 'any', method: null, path: '/p/0', pathMatch: 'prefix', status: null },
      windowSeconds: 60, threshold: 20, key: 'ip', banSeconds: 600, mode: 'enforce', maxBansPerMinute: 1000,
    },
  },
];

/**
 * A GET, tried again once on a reset connection: the hub runs in this process, so a long synchronous
 * step before (the raw-scan baseline) can let the server close a keep-alive socket just as fetch picks it.
 */
async function getOnce(url: string, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, { headers });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw error;
    return fetch(url, { headers });
  }
}

export async function measurePreview(target: { hub: Hub<HubStore>; siteId: number; cookie: string; storedReports: number }, log: (line: string) => void): Promise<PreviewTiming[]> {
  const me = (await (await getOnce(`${target.hub.url}/api/me`, { cookie: target.cookie })).json()) as { csrfToken: string };
  const headers = { cookie: target.cookie, 'x-csrf-token': me.csrfToken, 'content-type': 'application/json' };
  // The rules page starts the warm workers; a user reads and types a draft meanwhile.
  const pageOpened = performance.now();
  const coldPool = previewWorkers.size === 0;
  const page = await getOnce(`${target.hub.url}/sites/${target.siteId}/rules`, { cookie: target.cookie });
  if (page.status !== 200) throw new Error(`rules page: ${page.status}`);
  await previewWorkers.whenReady();
  const workersStartMs = coldPool ? performance.now() - pageOpened : 0;
  log(`preview workers ${coldPool ? `started in ${(workersStartMs / 1000).toFixed(2)} s when the rules page opened` : 'already up'}`);
  const timings: PreviewTiming[] = [];
  for (const draft of DRAFTS) {
    const started = performance.now();
    const url = `${target.hub.url}/api/sites/${target.siteId}/${draft.preview === 'rule' ? 'rules' : 'thresholds'}/preview`;
    const answer = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ rule: draft.rule, range: '24h' }) });
    if (answer.status !== 202) throw new Error(`${draft.preview} preview: ${answer.status} ${await answer.text()}`);
    let job = ((await answer.json()) as { job: Job }).job;
    const progress = new Set<number>();
    while (job.state === 'running') {
      if (job.progress > 0) progress.add(job.progress);
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = ((await (await getOnce(`${url}/${job.id}`, headers)).json()) as { job: Job }).job;
    }
    if (job.state !== 'done' || !job.result) throw new Error(`${draft.preview} preview ${job.state}: ${job.error}`);
    const matched = job.result.matched;
    const timing: PreviewTiming = {
      preview: draft.preview, rule: draft.name, storedReports: target.storedReports, scanned: job.scanned,
      matched: typeof matched === 'number' ? matched : matched.requests, parts: job.parts ?? 1,
      jobMs: performance.now() - started, scanMs: job.result.scanMs, reportsPerSecond: job.scanned / (job.result.scanMs / 1000),
      progressSteps: progress.size, workersStartMs,
    };
    log(`${draft.preview} preview (${timing.rule}): ${timing.scanned.toLocaleString('en-US')} reports scanned in ${(timing.scanMs / 1000).toFixed(2)} s `
      + `by ${timing.parts} worker${timing.parts > 1 ? 's' : ''} (${Math.round(timing.reportsPerSecond).toLocaleString('en-US')}/s; `
      + `${(timing.jobMs / 1000).toFixed(2)} s from the POST to the result, ${timing.progressSteps} progress steps shown), `
      + `${timing.matched.toLocaleString('en-US')} matched${job.result.bans === undefined ? '' : `, ${job.result.bans.toLocaleString('en-US')} bans`}; `
      + `load average ${loadavg()[0]!.toFixed(1)}`);
    timings.push(timing);
  }
  return timings;
}
