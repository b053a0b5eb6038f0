#!/usr/bin/env node
// Entry point of the `moat-waf` command; the logic lives in run.ts so tests can call it in-process.
import { run } from './run.js';

// A reader that stops early (`moat-waf inspect rules.db | head -1`) closes the pipe; the rest of the
// output has nowhere to go, which is not a failure of the command: end quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await run(process.argv.slice(2));
