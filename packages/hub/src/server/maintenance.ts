import type { FastifyBaseLogger } from 'fastify';
import type { HubConfig } from '../config.js';
import { DatabaseUnavailableError } from '../store/postgres/database-unavailable.js';
import type { HubContext } from './context.js';
import { RecurringFailureLog } from './recurring-failure-log.js';

export interface Maintenance {
  /** Folds all pending reports into the rollups, chunk by chunk; returns reports folded. */
  rollUpAll(): Promise<number>;
  prune(): Promise<number>;
  stop(): void;
  /** Resolves when no pass is running. */
  idle(): Promise<void>;
}

/** Most chunks one timer pass folds, so a backlog is worked off over several passes. */
const MAX_CHUNKS_PER_PASS = 20;

/**
 * The background work: rollups every rollupIntervalMs, retention (and rebuilding Wafris files whose
 * rules expired) every pruneIntervalMs. Passes never overlap; a failing pass is logged and retried on
 * the next tick, never crashing the hub. Timers are unref'd and stopped by stop().
 */
export function startMaintenance(ctx: HubContext, config: HubConfig, log: FastifyBaseLogger): Maintenance {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const next = running.then(task, task);
    running = next.catch(() => undefined);
    return next;
  };
  const yieldToRequests = () => new Promise((resolve) => setImmediate(resolve));

  const rollUp = (maxChunks: number) => exclusive(async () => {
    let folded = 0;
    for (let i = 0; i < maxChunks && !stopped; i++) {
      const n = await ctx.store.rollUp();
      folded += n;
      if (n === 0) break;
      await yieldToRequests();
    }
    return folded;
  });
  const prune = () => exclusive(async () => {
    const now = Math.floor(ctx.now() / 1000);
    const deleted = await ctx.store.prune(config.retention, now) + await ctx.store.pruneContacts(config.retention, now);
    await ctx.builder.rebuildExpired();
    return deleted;
  });

  // A failing job is logged once, then at most once a minute, and when it works again. A database outage
  // is logged by the store at a bounded rate; the next tick simply tries again.
  const rollupLog = new RecurringFailureLog(log, 'rollup');
  const pruneLog = new RecurringFailureLog(log, 'retention');
  const logFailure = (failures: RecurringFailureLog) => (error: unknown) => {
    if (!(error instanceof DatabaseUnavailableError)) failures.failed(error);
  };
  const rollupTimer = setInterval(() => {
    rollUp(MAX_CHUNKS_PER_PASS).then(() => rollupLog.succeeded(), logFailure(rollupLog));
  }, config.rollupIntervalMs);
  const pruneTimer = setInterval(() => {
    prune().then(() => pruneLog.succeeded(), logFailure(pruneLog));
  }, config.pruneIntervalMs);
  rollupTimer.unref();
  pruneTimer.unref();

  return {
    rollUpAll: () => rollUp(Number.MAX_SAFE_INTEGER),
    prune,
    stop: () => {
      stopped = true;
      clearInterval(rollupTimer);
      clearInterval(pruneTimer);
    },
    idle: async () => {
      await running;
    },
  };
}
