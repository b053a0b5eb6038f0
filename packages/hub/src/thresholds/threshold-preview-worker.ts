/**
 * The threshold preview's scan, in a worker thread: every stored report of the range, oldest first,
 * through ThresholdBacktest (the hub's own evaluator and ban policy). Progress goes to the parent as
 * the scan passes through time; a cancelled scan stops at its next page. When the parent split the job
 * by key (threshold-preview-split.ts), each of two workers counts its half of the keys, the second sends
 * its crossings over their port, and the first judges both and reports the whole.
 */
import type { MessagePort } from 'node:worker_threads';
import { parseReportedKeys } from '../ingest/reported-keys.js';
import { isReportedKeyKind, banKeyLabel, type ReportedKey } from './ban-key.js';
import { ThresholdBacktest, type BacktestExample, type BacktestRecord } from './threshold-preview-backtest.js';
import { openThresholdScanner, type ThresholdReportScanner } from './threshold-preview-scan.js';
import { judgeParts, ThresholdPartCounter, type ExampleCrossing, type PartCrossings } from './threshold-preview-split.js';
import type { ThresholdPreviewWorkerInput, ThresholdPreviewWorkerMessage } from './threshold-preview.js';

const TREATMENTS = ['Passed', 'Allowed', 'Blocked'] as const;
const PROGRESS_EVERY_MS = 100;

/** What the second part sends the first. */
interface SentPart {
  scanned: number;
  scanMs: number;
  crossings: PartCrossings;
}

/** One part of a threshold preview, run by a pooled worker (rules/preview-worker-host.ts). */
export function runPart(input: unknown, send: (message: unknown) => void, cancelled: () => boolean): Promise<void> {
  return scanThresholds(input as ThresholdPreviewWorkerInput, send, cancelled);
}

export async function scanThresholds(input: ThresholdPreviewWorkerInput, send: (message: ThresholdPreviewWorkerMessage) => void,
  cancelled: () => boolean = () => false): Promise<void> {
  const keyed = isReportedKeyKind(input.rule.key);
  const byStatus = input.rule.condition.status !== null;
  const peer = input.half === undefined ? undefined : input.peer;
  // The second part's crossings, listened for from the start so they are not missed while this part runs.
  const peerPart = peer?.role === 'merge' ? nextMessage<SentPart>(peer.port) : undefined;
  // Awaited after this part's scan; a rejection before then (this part cancelled) must not count as unhandled.
  peerPart?.catch(() => undefined);
  const condition = input.rule.condition;
  // A split part fetches its examples by id: it reads the method and path only for the condition, no user agent.
  const scanner = await openThresholdScanner(input.source, peer
    ? { keys: keyed, status: byStatus, method: condition.method !== null, path: condition.path !== null, userAgent: false }
    : { keys: keyed, status: byStatus }, peer && input.half);
  const backtest = peer ? undefined : new ThresholdBacktest(input.rule, input.options);
  const counter = peer ? new ThresholdPartCounter(input.rule, input.options) : undefined;
  // One record, refilled per row: the backtest keeps nothing of it.
  const record: BacktestRecord = { ts: 0, ip: '', method: '', path: '', userAgent: '', treatment: 'Passed', status: null, keys: null, ipSource: null };
  let scanned = 0;
  const started = performance.now();
  let lastProgress = started;
  try {
    const cursor = { ts: input.from - 1, id: 0 };
    let pending = scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
    for (;;) {
      const rows = await pending;
      if (rows.length === 0) break;
      // Checked per page: a page is read and counted synchronously, so no message could stop it.
      if (cancelled()) return;
      const last = rows[rows.length - 1]!;
      cursor.ts = last[1];
      cursor.id = last[0];
      // The next page is read while this one is counted (PostgreSQL answers meanwhile).
      pending = rows.length < input.pageSize ? Promise.resolve([]) : scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
      for (const row of rows) {
        record.ts = row[1];
        record.ip = row[2];
        record.method = row[3] ?? '';
        record.path = row[4] ?? '';
        record.userAgent = row[5] ?? '';
        record.treatment = TREATMENTS[row[6]] ?? 'Passed';
        // As ingest hands them to the evaluator: no count for a single request, and the address's source,
        // so a Wafris report (no source) counts only for `clients: 'all'` and a proxy's own address never.
        record.aggregateCount = row[7] ?? undefined;
        record.ipSource = row[10];
        record.keys = keyed ? storedKeys(row[8]) : null;
        // Null (none reported, or a row older than the column) never matches a status condition, as at ingest.
        record.status = row[9];
        if (counter) counter.add(record, row[0]);
        else backtest!.add(record);
      }
      scanned += rows.length;
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        send({ type: 'progress', scanned, ts: cursor.ts });
      }
    }
    let scanMs = performance.now() - started;
    if (!peer || !counter) {
      send({ type: 'done', scanned, result: { ...backtest!.result(), keysStored: scanner.keysStored, scanMs: Math.round(scanMs) } });
      return;
    }
    if (peer.role === 'send') {
      const crossings = counter.counts();
      const { tally } = crossings;
      // The tallies move, not copied: this part is done with them.
      peer.port.postMessage({ scanned, scanMs, crossings } satisfies SentPart, [tally.crossing, tally.ts, tally.weight, tally.newly].map((array) => array.buffer as ArrayBuffer));
      peer.port.close();
      send({ type: 'sent', scanned });
      return;
    }
    const other = await peerPart!;
    peer.port.close();
    const judged = judgeParts(input.rule, input.options, [counter.counts(), other.crossings]);
    scanMs = Math.max(scanMs, other.scanMs);
    const examples = await exampleReports(scanner, input.siteId, judged.examples);
    send({
      type: 'done', scanned: scanned + other.scanned,
      result: { ...judged.result, examples, keysStored: scanner.keysStored, scanMs: Math.round(scanMs) },
    });
  } finally {
    await scanner.close().catch(() => undefined);
  }
}

/** The first bans' reports, read by id, in the order of the bans. */
async function exampleReports(scanner: ThresholdReportScanner, siteId: number, crossings: readonly ExampleCrossing[]): Promise<BacktestExample[]> {
  const rows = await scanner.byIds(siteId, crossings.map((c) => c.id));
  return crossings.flatMap(({ id, key }) => {
    const row = rows.get(id);
    if (!row) return [];
    const [ts, ip, method, path, userAgent, treatment] = row;
    return [{ ts, ip, method, path, userAgent, recorded: TREATMENTS[treatment] ?? 'Passed', key: banKeyLabel(key) }];
  });
}

/** The port's next message; a port closed first (the other part stopped) rejects, so this part never waits forever. */
function nextMessage<T>(port: MessagePort): Promise<T> {
  return new Promise((resolve, reject) => {
    port.once('message', (message: T) => resolve(message));
    port.once('close', () => reject(new Error('the other part of the scan stopped')));
  });
}

/** The stored keys text (validated at ingest); anything that no longer parses counts as none, so by IP. */
function storedKeys(text: string | null): readonly ReportedKey[] | null {
  if (text === null) return null;
  const keys = parseReportedKeys(text);
  return typeof keys === 'string' ? null : keys;
}
