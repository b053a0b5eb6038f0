/**
 * Runs a feed job (build-job.ts: the data file; bot-catalogue-job.ts: checking a catalogue) in a worker
 * thread of its own, one per job (jobs are rare; a fresh worker also returns all its memory), so the
 * hub's event loop never parses a feed. The worker entry is a small CommonJS text that imports the job
 * module: from dist that is plain JavaScript; from the TypeScript sources (tests, tsx) the worker
 * registers tsx first, since on Node 20 a worker does not inherit the parent's loader.
 */
import { Worker } from 'node:worker_threads';
import type { CatalogueJobResult } from './bot-catalogue-job.js';
import type { BuildJobInput, BuildJobResult } from './build-job.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  if (workerData.job.endsWith('.ts')) (await import('tsx/esm/api')).register();
  const job = await import(workerData.job);
  parentPort.postMessage(await job.run(workerData.input));
})().catch((error) => { throw error; });
`;

/** A job module next to this file, as .js from dist and .ts from the sources. */
const jobUrl = (name: string) => new URL(`./${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

export function buildInWorker(input: BuildJobInput): Promise<BuildJobResult> {
  return runJobInWorker('build-job', input);
}

export function checkCatalogueInWorker(text: string): Promise<CatalogueJobResult> {
  return runJobInWorker('bot-catalogue-job', { text });
}

function runJobInWorker<Result>(job: 'build-job' | 'bot-catalogue-job', input: unknown): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { job: jobUrl(job), input } });
    let settled = false;
    worker.once('message', (result: Result) => {
      settled = true;
      resolve(result);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the feed worker (${job}) stopped (exit code ${code}) before it answered`));
    });
  });
}
