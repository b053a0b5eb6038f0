/**
 * The threshold preview's scan, in a worker thread: every stored report of the range, oldest first,
 * through ThresholdBacktest (the hub's own evaluator and ban policy). Progress goes to the parent as
 * the scan passes through time; the parent ends the worker to cancel it. One worker, not two: counts
 * and bans depend on every earlier report of a key, and a ban's cap and rate on every other key.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseReportedKeys } from '../ingest/reported-keys.js';
import { isReportedKeyKind, type ReportedKey } from './ban-key.js';
import { ThresholdBacktest, type BacktestRecord } from './threshold-preview-backtest.js';
import { openThresholdScanner } from './threshold-preview-scan.js';
import type { ThresholdPreviewWorkerInput, ThresholdPreviewWorkerMessage } from './threshold-preview.js';

const TREATMENTS = ['Passed', 'Allowed', 'Blocked'] as const;
const PROGRESS_EVERY_MS = 100;

export async function scanThresholds(input: ThresholdPreviewWorkerInput, send: (message: ThresholdPreviewWorkerMessage) => void): Promise<void> {
  const keyed = isReportedKeyKind(input.rule.key);
  const byStatus = input.rule.condition.status !== null;
  const scanner = await openThresholdScanner(input.source, { keys: keyed, status: byStatus });
  const backtest = new ThresholdBacktest(input.rule, input.options);
  // One record, refilled per row: the backtest keeps nothing of it.
  const record: BacktestRecord = { ts: 0, ip: '', method: '', path: '', userAgent: '', treatment: 'Passed', status: null, aggregateCount: 1, keys: null };
  let scanned = 0;
  const started = performance.now();
  let lastProgress = started;
  try {
    const cursor = { ts: input.from - 1, id: 0 };
    let pending = scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
    for (;;) {
      const rows = await pending;
      if (rows.length === 0) break;
      const last = rows[rows.length - 1]!;
      cursor.ts = last[1];
      cursor.id = last[0];
      // The next page is read while this one is counted (PostgreSQL answers meanwhile).
      pending = rows.length < input.pageSize ? Promise.resolve([]) : scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
      for (const row of rows) {
        record.ts = row[1];
        record.ip = row[2];
        record.method = row[3];
        record.path = row[4];
        record.userAgent = row[5];
        record.treatment = TREATMENTS[row[6]] ?? 'Passed';
        record.aggregateCount = row[7] ?? 1;
        record.keys = keyed ? storedKeys(row[8]) : null;
        // Null (none reported, or a row older than the column) never matches a status condition, as at ingest.
        record.status = row[9];
        backtest.add(record);
      }
      scanned += rows.length;
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        send({ type: 'progress', scanned, ts: cursor.ts });
      }
    }
    send({ type: 'done', scanned, result: { ...backtest.result(), keysStored: scanner.keysStored, scanMs: Math.round(performance.now() - started) } });
  } finally {
    await scanner.close().catch(() => undefined);
  }
}

/** The stored keys text (validated at ingest); anything that no longer parses counts as none, so by IP. */
function storedKeys(text: string | null): readonly ReportedKey[] | null {
  if (text === null) return null;
  const keys = parseReportedKeys(text);
  return typeof keys === 'string' ? null : keys;
}

const port = parentPort;
if (port) {
  scanThresholds(workerData as ThresholdPreviewWorkerInput, (message) => port.postMessage(message)).catch((error: unknown) => {
    port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies ThresholdPreviewWorkerMessage);
  });
}
