/**
 * A preview kind's worker module for the pool's tests (PreviewPartModule): each part does what its input
 * says, on a real pooled worker thread: answer, end the thread, or run until it is cancelled.
 */
import { threadId } from 'node:worker_threads';

export type FixturePart = { do: 'answer'; value: number } | { do: 'crash' } | { do: 'run until cancelled' };

export async function runPart(input: unknown, send: (message: unknown) => void, cancelled: () => boolean): Promise<void> {
  const part = input as FixturePart;
  if (part.do === 'answer') send({ type: 'done', value: part.value, threadId });
  else if (part.do === 'crash') process.exit(3); // in a worker: ends this thread only, as a crash would
  else {
    send({ type: 'progress', threadId });
    while (!cancelled()) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
