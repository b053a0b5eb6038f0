/**
 * The entry of a one-job worker (module-worker.ts `runJobInWorker`): imports the job module, runs it
 * once and posts its result. A job that throws fails the worker, which the parent sees as its error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { JobModule } from './module-worker.js';

const { job, input } = workerData as { job: string; input: unknown };
const module = (await import(job)) as JobModule<unknown, unknown>;
parentPort!.postMessage(await module.run(input));
