import type { HubStore } from '../store/store.js';
import { Counter, gaugeText, Histogram } from './prometheus-text.js';

/** Seconds; the upper bounds of the request latency histogram. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Route patterns and methods are finite; the cap guards against a route table that grows. */
const MAX_ROUTE_SERIES = 200;
/** Reporters per site in the freshness gauge (the most recently seen), and sites in all. */
const MAX_REPORTERS_PER_SITE = 20;
const MAX_SITES = 200;

/** What an upsync answer says about its batch, read from the JSON the route sent. */
export interface IngestOutcome {
  accepted: number;
  rejected: number;
  duplicate: boolean;
}

/**
 * The hub's counters, fed by hooks (metrics-routes.ts) and rendered on a scrape. Labels come only from
 * things the hub defines — route patterns (never the requested path), methods, status codes, site ids —
 * so an attacker varying paths or keys adds no series.
 */
export class HubMetrics {
  readonly requests = new Histogram('moat_hub_request_duration_seconds', 'Time to answer a request, by route pattern (unmatched: no route).',
    ['method', 'route'], MAX_ROUTE_SERIES, LATENCY_BUCKETS);
  readonly upsyncRequests = new Counter('moat_hub_upsync_requests_total', 'Upsync requests by answer status.', ['status'], 64);
  readonly downsyncRequests = new Counter('moat_hub_downsync_requests_total', 'Downsync requests by answer status (304: the client is up to date).', ['status'], 64);
  readonly ingestBatches = new Counter('moat_hub_ingest_batches_total', 'Report batches answered 200: stored, or a duplicate of a stored one.', ['outcome'], 4);
  readonly ingestRecords = new Counter('moat_hub_ingest_records_total', 'Report records in batches answered 200: accepted (stored) or rejected.', ['outcome'], 4);

  countIngest(outcome: IngestOutcome): void {
    this.ingestBatches.inc({ outcome: outcome.duplicate ? 'duplicate' : 'stored' });
    this.ingestRecords.inc({ outcome: 'accepted' }, outcome.accepted);
    this.ingestRecords.inc({ outcome: 'rejected' }, outcome.rejected);
  }

  /** The exposition text; `databaseUp` and the store's reporters are read now. */
  async render(store: HubStore, databaseUp: boolean, nowSeconds: number): Promise<string> {
    const downsyncTotal = ['200', '304'].reduce((n, s) => n + this.downsyncRequests.get({ status: s }), 0);
    const parts = [
      this.requests.render(), this.upsyncRequests.render(), this.downsyncRequests.render(),
      gaugeText('moat_hub_downsync_not_modified_ratio', 'Share of successful downsyncs answered 304 since start.',
        [{ labels: {}, value: downsyncTotal === 0 ? 0 : this.downsyncRequests.get({ status: '304' }) / downsyncTotal }]),
      this.ingestBatches.render(), this.ingestRecords.render(),
      gaugeText('moat_hub_database_up', '1 when the store answers a trivial query, else 0 (an outage).', [{ labels: {}, value: databaseUp ? 1 : 0 }]),
    ];
    if (databaseUp) parts.push(await freshness(store, nowSeconds));
    return `${parts.join('\n')}\n`;
  }
}

/** Seconds since each site's reporters last sent a batch, the most recent MAX_REPORTERS_PER_SITE per site. */
async function freshness(store: HubStore, nowSeconds: number): Promise<string> {
  const samples: { labels: Record<string, string>; value: number }[] = [];
  const sites = (await store.listSites()).slice(0, MAX_SITES);
  for (const site of sites) {
    const reporters = (await store.listReporters(site.id)).sort((a, b) => b.lastSeen - a.lastSeen).slice(0, MAX_REPORTERS_PER_SITE);
    for (const r of reporters) {
      samples.push({ labels: { site: String(site.id), reporter: r.client.slice(0, 64) }, value: Math.max(0, nowSeconds - r.lastSeen) });
    }
  }
  return gaugeText('moat_hub_reporter_last_seen_seconds',
    `Seconds since a reporter (client name) last sent reports, per site; at most ${MAX_REPORTERS_PER_SITE} per site.`, samples);
}
