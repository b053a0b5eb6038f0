// Worker-thread side of downsync-thread.ts: makes each exchange with the steps of downsync-answer.ts and
// answers one message per step. Every failure travels back as a SyncError's reason and message.
import { parentPort } from 'node:worker_threads';
import { fetchOnThisThread, type DownsyncAnswer } from './downsync-answer.js';
import type { FromDownsyncWorker, ToDownsyncWorker } from './downsync-thread.js';
import { SyncError } from './sync-error.js';

const port = parentPort!;
/** Exchanges by id: the caller's abort, and the answer once it came. */
const exchanges = new Map<number, { abort: AbortController; answer: DownsyncAnswer | null }>();

const reply = (message: FromDownsyncWorker) => port.postMessage(message);

function failure(id: number, error: unknown): FromDownsyncWorker {
  return error instanceof SyncError
    ? { id, ok: false, reason: error.reason, message: error.message }
    : { id, ok: false, reason: 'error', message: error instanceof Error ? error.message : String(error) };
}

async function fetchStep(message: Extract<ToDownsyncWorker, { op: 'fetch' }>): Promise<void> {
  const { id } = message;
  const abort = new AbortController();
  exchanges.set(id, { abort, answer: null });
  try {
    const answer = await fetchOnThisThread(message.url, {
      headers: message.headers, idleTimeoutMs: message.idleTimeoutMs, totalTimeoutMs: message.totalTimeoutMs,
      maxRedirects: message.maxRedirects, signal: abort.signal,
    });
    const exchange = exchanges.get(id);
    if (exchange === undefined) {
      answer.dispose(); // dropped while it was asked
      return;
    }
    exchange.answer = answer;
    const headers: Array<[string, string]> = [];
    answer.headers.forEach((value, name) => headers.push([name, value]));
    reply({ id, ok: true, value: { status: answer.status, url: answer.url, headers } });
  } catch (error) {
    exchanges.delete(id);
    reply(failure(id, error));
  }
}

async function bodyStep(message: Extract<ToDownsyncWorker, { op: 'text' | 'save' | 'discard' }>): Promise<void> {
  const answer = exchanges.get(message.id)?.answer;
  if (answer === null || answer === undefined) {
    reply({ id: message.id, ok: false, reason: 'worker', message: 'no such downsync exchange in the worker' });
    return;
  }
  try {
    const value = message.op === 'text' ? await answer.text(message.maxBytes)
      : message.op === 'save' ? await answer.save(message.path, message.maxBytes, message.limitName, () => {})
        : (await answer.discard(), null);
    reply({ id: message.id, ok: true, value });
  } catch (error) {
    reply(failure(message.id, error));
  }
}

function end(id: number, aborted: boolean): void {
  const exchange = exchanges.get(id);
  if (exchange === undefined) return;
  exchanges.delete(id);
  if (aborted) exchange.abort.abort(new SyncError('aborted', 'the downsync exchange was aborted'));
  exchange.answer?.dispose();
}

port.on('message', (message: ToDownsyncWorker) => {
  switch (message.op) {
    case 'fetch': void fetchStep(message); break;
    case 'text': case 'save': case 'discard': void bodyStep(message); break;
    case 'abort': end(message.id, true); break;
    case 'dispose': end(message.id, false); break;
  }
});
reply({ ready: true });
