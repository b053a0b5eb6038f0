/**
 * Runs a feed job (build-job.ts: the data file; bot-catalogue-job.ts: checking a catalogue) in a worker
 * thread of its own, one per job, so the hub's event loop never parses a feed.
 */
import { runJobInWorker } from '../workers/module-worker.js';
import type { CatalogueJobResult } from './bot-catalogue-job.js';
import type { BuildJobInput, BuildJobResult } from './build-job.js';

export function buildInWorker(input: BuildJobInput): Promise<BuildJobResult> {
  return runJobInWorker(new URL('./build-job', import.meta.url), input, 'feed build');
}

export function checkCatalogueInWorker(text: string): Promise<CatalogueJobResult> {
  return runJobInWorker(new URL('./bot-catalogue-job', import.meta.url), { text }, 'bot catalogue check');
}
