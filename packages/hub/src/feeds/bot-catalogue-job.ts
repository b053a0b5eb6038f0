/**
 * Checks a `bots` feed's copy in a worker thread (build-worker.ts): parsing and validating up to 1 MiB of
 * untrusted JSON took 100–200 ms on this machine, far too long for the hub's event loop.
 */
import { threadId } from 'node:worker_threads';
import { checkBotCatalogueText, type CatalogueCheck } from './bot-catalogue-check.js';

export type CatalogueJobResult = CatalogueCheck & { threadId: number };

export function run(input: { text: string }): CatalogueJobResult {
  return { ...checkBotCatalogueText(input.text), threadId };
}
