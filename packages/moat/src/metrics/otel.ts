// `moat-waf/otel`: the firewall's counters as OpenTelemetry metrics. Observable instruments only: their
// values are read from stats()/status() when the SDK collects, so serving a request costs nothing more.
// `@opentelemetry/api` is an optional peer dependency, loaded by a dynamic import only when no meter is
// given; this file imports nothing from it at run time.

import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { MoatError } from '../errors/moat-error.js';
import type { Firewall } from '../firewall/firewall.js';
import type { FirewallStats } from '../firewall/stats.js';
import { ManagedFirewall, type ManagedStatus } from '../managed/managed-firewall.js';
import type { UpsyncStatus } from '../sync/upsync.js';

export interface OtelMetricsOptions {
  /** The meter to register the instruments on; default: `metrics.getMeter('moat-waf')` of the global provider. */
  meter?: Meter;
}

export interface OtelMetrics {
  /** The meter the instruments are on. */
  readonly meter: Meter;
  /** Stops reporting this firewall's values (the instruments stay, without values). */
  unregister(): void;
}

/** What an upsync drop is called in the `reason` attribute of `moat.upsync.dropped`. */
const DROP_REASONS = {
  droppedRingFull: 'ring_full', droppedQueueFull: 'queue_full', droppedQueueBytes: 'queue_bytes',
  droppedRejected: 'rejected', droppedByHub: 'refused_by_hub', droppedTooLarge: 'too_large',
  droppedAtStop: 'at_stop', droppedWorkerExit: 'worker_exit', droppedUnsupported: 'unsupported',
} as const satisfies Partial<Record<keyof UpsyncStatus, string>>;

const SYNC_CATEGORIES = { customRules: 'custom_rules', dataSubscriptions: 'data_subscriptions' } as const;

/**
 * Registers observable instruments reporting `firewall`'s counters (and, for a ManagedFirewall, its sync
 * and upsync state). Rejects with `MOAT_ERR_DEPENDENCY_MISSING` when no meter is given and
 * `@opentelemetry/api` is not installed.
 */
export async function registerOtelMetrics(firewall: Firewall, options: OtelMetricsOptions = {}): Promise<OtelMetrics> {
  const meter = options.meter ?? (await globalMeter());
  const counter = (name: string, description: string, unit: string) => meter.createObservableCounter(name, { description, unit });
  const requests = counter('moat.requests', 'requests the firewall looked at', '{request}');
  const decisions = counter('moat.decisions', 'decisions by treatment and category', '{decision}');
  const monitored = counter('moat.monitored', 'monitor-mode rule matches by category (not acted on)', '{match}');
  const engineErrors = counter('moat.engine.errors', 'errors while judging a request (each failed open or answered 503)', '{error}');
  const unjudged = counter('moat.unjudged', 'requests let through (outcome=open) or answered 503 (outcome=closed) for an error or a missing engine', '{request}');
  const hookErrors = counter('moat.hook.errors', 'errors thrown by decision listeners or response functions', '{error}');
  const rateLimitFallbacks = counter('moat.rate_limit.fallbacks', 'rate limits counted locally because the shared store failed', '{request}');
  const observables: Observable[] = [requests, decisions, monitored, engineErrors, unjudged, hookErrors, rateLimitFallbacks];

  const managed = firewall instanceof ManagedFirewall ? firewall : null;
  const syncAge = managed && meter.createObservableGauge('moat.sync.age', {
    description: 'time since the hub last confirmed the file in use (downloaded or 304), by category', unit: 's',
  });
  const syncErrors = managed && counter('moat.sync.errors', 'downsync errors by category', '{error}');
  const upsyncDropped = managed && counter('moat.upsync.dropped', 'decision records lost before reaching the hub, by reason', '{record}');
  const upsyncSent = managed && counter('moat.upsync.sent', 'decision records delivered to the hub', '{record}');
  const upsyncQueued = managed && meter.createObservableUpDownCounter('moat.upsync.queued', {
    description: 'decision records waiting to be sent', unit: '{record}',
  });
  if (syncAge && syncErrors && upsyncDropped && upsyncSent && upsyncQueued) observables.push(syncAge, syncErrors, upsyncDropped, upsyncSent, upsyncQueued);

  // One callback for all instruments: one stats() copy per collection.
  const callback = (result: BatchObservableResult): void => {
    const status: ManagedStatus | null = managed?.status() ?? null;
    const stats: FirewallStats = status?.firewall ?? firewall.stats();
    result.observe(requests, stats.requests);
    for (const [treatment, byCategory] of Object.entries(stats.decisions)) {
      for (const [category, n] of Object.entries(byCategory)) result.observe(decisions, n, { treatment, category });
    }
    for (const [category, n] of Object.entries(stats.monitoredMatches)) result.observe(monitored, n, { category });
    result.observe(engineErrors, stats.engineErrors);
    result.observe(unjudged, stats.failedOpen, { outcome: 'open' });
    result.observe(unjudged, stats.failedClosed, { outcome: 'closed' });
    result.observe(hookErrors, stats.hookErrors);
    result.observe(rateLimitFallbacks, stats.rateLimitFallbacks);
    if (status === null || !syncAge || !syncErrors || !upsyncDropped || !upsyncSent || !upsyncQueued) return;
    for (const [key, category] of Object.entries(SYNC_CATEGORIES) as [keyof typeof SYNC_CATEGORIES, string][]) {
      const attributes: Attributes = { category };
      const age = status.syncAgeMs[key];
      if (age !== null) result.observe(syncAge, age / 1000, attributes);
      result.observe(syncErrors, status[key].errors, attributes);
    }
    for (const [field, reason] of Object.entries(DROP_REASONS) as [keyof typeof DROP_REASONS, string][]) {
      result.observe(upsyncDropped, status.upsync[field], { reason });
    }
    result.observe(upsyncSent, status.upsync.sent);
    result.observe(upsyncQueued, status.upsync.queued);
  };
  meter.addBatchObservableCallback(callback, observables);
  return { meter, unregister: () => meter.removeBatchObservableCallback(callback, observables) };
}

async function globalMeter(): Promise<Meter> {
  let api: typeof import('@opentelemetry/api');
  try {
    api = await import('@opentelemetry/api');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new MoatError('MOAT_ERR_DEPENDENCY_MISSING', 'registerOtelMetrics needs @opentelemetry/api, an optional peer dependency ' +
      'of moat-waf: npm install @opentelemetry/api (and an SDK that collects, e.g. @opentelemetry/sdk-metrics), or pass { meter }', { cause: error });
  }
  return api.metrics.getMeter('moat-waf');
}
