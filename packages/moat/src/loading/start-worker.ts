// Starts a worker thread on a module beside the caller, both from compiled dist (`.js`) and from the
// TypeScript sources (tests and benches run through tsx, whose loader hooks do not reach worker threads
// on Node 20: there the worker registers tsx itself, when it can, before importing its entry; a Node
// that strips types needs no loader).
import { Worker } from 'node:worker_threads';

/**
 * `callerUrl` is the caller's `import.meta.url`; `entry` the worker module's path relative to it,
 * without extension (`./verify-worker`). Throws when no worker can be started at all.
 */
export function startModuleWorker(callerUrl: string, entry: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${entry}.js`, callerUrl), { workerData });
  const href = JSON.stringify(new URL(`${entry}.ts`, callerUrl).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => tsx.register(), () => {}).then(() => import(${href}))`, { eval: true, workerData });
}
