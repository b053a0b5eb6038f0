/**
 * The rule preview's scan, in a worker thread: the draft's compiled rules file opened by the clients'
 * engine, every stored report of the range replayed through it oldest first (rate limits on a clock set
 * from each report's timestamp), summed up by moat-waf's TrafficSummary. Progress goes to the parent
 * as the scan passes through time; a cancelled scan stops at its next page. When the parent split the
 * job in two (in time, or by client), the two workers meet over a port of their own (see
 * PreviewWorkerInput.peer).
 */
import type { MessagePort } from 'node:worker_threads';
import { Engine, MemoryRateLimitStore } from 'moat-waf';
import { Replay, requestFieldsRead, type ReplayRecord, type TrafficSummaryResult } from 'moat-waf/replay';
import { openReportScanner, type ReportScanner, type ScanColumns, type ScanCursor, type ScanRow } from '../store/report-scan.js';
import type { PreviewPartCounts, PreviewWorkerInput, RulePreviewWorkerMessage } from './rule-preview-protocol.js';

const TREATMENTS = ['Passed', 'Allowed', 'Blocked'] as const;
/** Progress at most this often: a message per page would be thousands for a long range. */
const PROGRESS_EVERY_MS = 100;

/** One part of a rule preview, run by a pooled worker (preview-worker-host.ts). */
export function runPart(input: unknown, send: (message: unknown) => void, cancelled: () => boolean): Promise<void> {
  return scan(input as PreviewWorkerInput, send, cancelled);
}

export async function scan(input: PreviewWorkerInput, send: (message: RulePreviewWorkerMessage) => void, cancelled: () => boolean = () => false): Promise<void> {
  const rateLimits = new MemoryRateLimitStore({ maxBytes: input.rateLimitBytes });
  const replay = new Replay((now) => Engine.open({ rules: input.rulesFile, data: input.dataFile, now, rateLimits }));
  // The second part's counts, listened for from the start so they are not missed while this part runs.
  const peerCounts = input.peer?.role === 'merge' ? nextMessage<PreviewPartCounts>(input.peer.port) : undefined;
  // Awaited after this part's scan; a rejection before then (this part cancelled) must not count as unhandled.
  peerCounts?.catch(() => undefined);
  const fields = requestFieldsRead(replay.engine);
  const columns: ScanColumns = { method: fields.has('method'), host: fields.has('host'), parameter: fields.has('params'), keys: fields.has('keys') };
  let scanner: ReportScanner;
  try {
    scanner = await openReportScanner(input.source, columns, input.clientHalf);
  } catch (error) {
    replay.engine.close();
    throw error;
  }
  let scanned = 0;
  const started = performance.now();
  let lastProgress = started;
  // One record, refilled per row: Replay reads it and keeps nothing of it (examples copy the fields),
  // so a million reports cost no million objects.
  const record: ReplayRecord = { ip: '', method: '', host: '', path: '', params: '', userAgent: '', ts: 0, treatment: 'Passed', count: 1, id: 0, keys: null };
  try {
    const cursor: ScanCursor = { ts: input.from - 1, id: 0 };
    let pending = scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
    for (;;) {
      const rows: ScanRow[] = await pending;
      if (rows.length === 0) break;
      // Checked per page: a page is read and judged synchronously, so no message could stop it.
      if (cancelled()) return;
      const last = rows[rows.length - 1]!;
      cursor.ts = last[1];
      cursor.id = last[0];
      // The next page is read while this one is judged (PostgreSQL answers meanwhile).
      pending = rows.length < input.pageSize ? Promise.resolve([]) : scanner.page(input.siteId, input.from, input.to, cursor, input.pageSize);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        record.id = row[0];
        record.ts = row[1];
        record.ip = row[2];
        record.method = row[3] ?? undefined;
        record.host = row[4] ?? undefined;
        record.path = row[5];
        record.params = row[6] ?? undefined;
        record.userAgent = row[7];
        record.treatment = TREATMENTS[row[8]] ?? 'Passed';
        record.count = row[9] ?? 1;
        // A report without keys counts by IP, as the client counted that request.
        record.keys = row[10];
        replay.add(record);
      }
      scanned += rows.length;
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        send({ type: 'progress', scanned, ts: cursor.ts });
      }
    }
    const counts: PreviewPartCounts = { scanned, summary: replay.summary.state(), rateLimitEvictedLive: rateLimits.stats().evictedLive, scanMs: performance.now() - started };
    if (input.peer?.role === 'send') {
      input.peer.port.postMessage(counts);
      input.peer.port.close();
      send({ type: 'sent', scanned });
      return;
    }
    let { rateLimitEvictedLive, scanMs } = counts;
    if (peerCounts) {
      const later = await peerCounts;
      input.peer!.port.close();
      replay.summary.merge(later.summary);
      scanned += later.scanned;
      rateLimitEvictedLive += later.rateLimitEvictedLive;
      scanMs = Math.max(scanMs, later.scanMs);
    }
    const summary = await completeExamples(replay.summary.result(), scanner, input.siteId, columns);
    send({ type: 'done', scanned, summary, rateLimitEvictedLive, scanMs });
  } finally {
    await scanner.close().catch(() => undefined);
    replay.engine.close();
  }
}

/** The examples' method and host, read by id when the scan skipped them; the ids stay internal. */
async function completeExamples(summary: TrafficSummaryResult, scanner: ReportScanner, siteId: number, columns: ScanColumns): Promise<TrafficSummaryResult> {
  const examples = summary.matched.examples;
  const lines = columns.method && columns.host ? undefined : await scanner.requestLines(siteId, examples.flatMap((e) => (e.id === undefined ? [] : [e.id])));
  summary.matched.examples = examples.map(({ id, ...example }) => {
    const line = id === undefined ? undefined : lines?.get(id);
    return line ? { ...example, method: line.method, host: line.host } : example;
  });
  return summary;
}

/** The port's next message; a port closed first (the other part stopped) rejects, so this part never waits forever. */
function nextMessage<T>(port: MessagePort): Promise<T> {
  return new Promise((resolve, reject) => {
    port.once('message', (message: T) => resolve(message));
    port.once('close', () => reject(new Error('the other part of the scan stopped')));
  });
}
