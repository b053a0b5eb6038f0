#!/usr/bin/env node
// Entry point of the `moat-waf` command; the logic lives in run.ts so tests can call it in-process.
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2));
