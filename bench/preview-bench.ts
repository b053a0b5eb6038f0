/**
 * The rule preview's scan over a bench hub's stored reports, through the real API: a draft path rule and a
 * draft rate limit replayed over the last 24 hours. `jobMs` is what the dashboard waits (worker start-up
 * included: from sources through tsx that alone is seconds; from dist, tens of milliseconds); `scanMs` is
 * the workers' reading and judging (the slower part's: a draft without a rate limit is scanned as the
 * range's two halves in time, a rate limit as the clients' two halves; `parts` says how many). Wall-clock:
 * the machine's load average is logged beside it. Then a draft threshold (auto-ban) rule over the same range.
 */
import { loadavg } from 'node:os';
import type { Hub } from '../packages/hub/src/index.js';
import type { HubStore } from '../packages/hub/src/store/store.js';

export interface PreviewTiming {
  rule: string;
  scanned: number;
  matched: number;
  /** Workers that scanned the range at once. */
  parts: number;
  jobMs: number;
  scanMs: number;
  reportsPerSecond: number;
}

export async function measurePreview(target: { hub: Hub<HubStore>; siteId: number; cookie: string }, log: (line: string) => void): Promise<PreviewTiming[]> {
  const me = (await (await fetch(`${target.hub.url}/api/me`, { headers: { cookie: target.cookie } })).json()) as { csrfToken: string };
  const headers = { cookie: target.cookie, 'x-csrf-token': me.csrfToken, 'content-type': 'application/json' };
  const drafts = [
    { name: 'path contains /p/1/', rule: { kind: 'path', value: '/p/1/' } },
    { name: 'rate limit /p/0/view 5 per minute', rule: { kind: 'rateLimit', rateLimit: { path: '/p/0/view', limit: 5, window: '1m' } } },
  ];
  const timings: PreviewTiming[] = [];
  for (const draft of drafts) {
    const started = performance.now();
    const url = `${target.hub.url}/api/sites/${target.siteId}/rules/preview`;
    const answer = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ rule: draft.rule, range: '24h' }) });
    if (answer.status !== 202) throw new Error(`preview: ${answer.status} ${await answer.text()}`);
    let job = ((await answer.json()) as { job: { id: string; state: string; scanned: number; parts: number; error?: string; result?: { scanMs: number; matched: { requests: number } } } }).job;
    while (job.state === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = ((await (await fetch(`${url}/${job.id}`, { headers })).json()) as { job: typeof job }).job;
    }
    if (job.state !== 'done' || !job.result) throw new Error(`preview ${job.state}: ${job.error}`);
    const timing = {
      rule: draft.name, scanned: job.scanned, matched: job.result.matched.requests, parts: job.parts, jobMs: performance.now() - started, scanMs: job.result.scanMs,
      reportsPerSecond: job.scanned / (job.result.scanMs / 1000),
    };
    log(`rule preview (${timing.rule}): ${timing.scanned.toLocaleString('en-US')} reports scanned in ${(timing.scanMs / 1000).toFixed(2)} s by ${timing.parts} worker${timing.parts > 1 ? 's' : ''} `
      + `(${Math.round(timing.reportsPerSecond).toLocaleString('en-US')}/s; ${(timing.jobMs / 1000).toFixed(2)} s with worker start-up), `
      + `${timing.matched.toLocaleString('en-US')} matched; load average ${loadavg()[0]!.toFixed(1)}`);
    timings.push(timing);
  }
  timings.push(await measureThresholdPreview(target.hub.url, target.siteId, headers, log));
  return timings;
}

/**
 * The threshold preview (thresholds/threshold-preview.ts) over the same reports: a draft auto-ban rule
 * counted by the hub's own evaluator and ban policy, one worker (counts depend on every earlier report).
 */
async function measureThresholdPreview(hubUrl: string, siteId: number, headers: Record<string, string>, log: (line: string) => void): Promise<PreviewTiming> {
  const name = 'threshold: 20 requests to /p/0/ in 60 s by IP, enforce';
  const rule = {
    name: 'bench flood', condition: { requests: 'any', method: null, path: '/p/0', pathMatch: 'prefix', status: null },
    windowSeconds: 60, threshold: 20, key: 'ip', banSeconds: 600, mode: 'enforce', maxBansPerMinute: 1000,
  };
  const started = performance.now();
  const url = `${hubUrl}/api/sites/${siteId}/thresholds/preview`;
  const answer = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ rule, range: '24h' }) });
  if (answer.status !== 202) throw new Error(`threshold preview: ${answer.status} ${await answer.text()}`);
  type Job = { id: string; state: string; scanned: number; error?: string; result?: { scanMs: number; matched: number; bans: number } };
  let job = ((await answer.json()) as { job: Job }).job;
  while (job.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 50));
    job = ((await (await fetch(`${url}/${job.id}`, { headers })).json()) as { job: Job }).job;
  }
  if (job.state !== 'done' || !job.result) throw new Error(`threshold preview ${job.state}: ${job.error}`);
  const timing: PreviewTiming = {
    rule: name, scanned: job.scanned, matched: job.result.matched, parts: 1, jobMs: performance.now() - started, scanMs: job.result.scanMs,
    reportsPerSecond: job.scanned / (job.result.scanMs / 1000),
  };
  log(`threshold preview (${name}): ${timing.scanned.toLocaleString('en-US')} reports scanned in ${(timing.scanMs / 1000).toFixed(2)} s `
    + `(${Math.round(timing.reportsPerSecond).toLocaleString('en-US')}/s; ${(timing.jobMs / 1000).toFixed(2)} s with worker start-up), `
    + `${timing.matched.toLocaleString('en-US')} matched, ${job.result.bans.toLocaleString('en-US')} bans; load average ${loadavg()[0]!.toFixed(1)}`);
  return timing;
}
