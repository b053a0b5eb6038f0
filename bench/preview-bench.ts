/**
 * The rule preview's scan over a bench hub's stored reports, through the real API: a draft path rule and a
 * draft rate limit replayed over the last 24 hours. `jobMs` is what the dashboard waits (worker start-up
 * included: from sources through tsx that alone is seconds; from dist, tens of milliseconds); `scanMs` is
 * the workers' reading and judging (the slower part's: a draft without a rate limit is scanned as the
 * range's two halves in time, a rate limit as the clients' two halves; `parts` says how many). Wall-clock:
 * the machine's load average is logged beside it.
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
  return timings;
}
