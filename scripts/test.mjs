#!/usr/bin/env node
// Runs every test file of every workspace with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [substring ...]  — only files whose path contains one of the substrings.
//        node scripts/test.mjs --fast            — the edit loop (`npm run test:fast`): unit and engine
//        tests that start no server, build no app and spawn no process; the full suite stays `npm test`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const FAST = [
  'moat/test/engine-', 'moat/test/ip', 'moat/test/http-', 'moat/test/rules-file', 'moat/test/report-format',
  'moat/test/report-ring', 'moat/test/attacks-detectors', 'moat/test/attacks-property', 'moat/test/attacks-corpus', 'moat/test/attacks-raw-form-field',
  'moat/test/data-importers', 'moat/test/data-engine', 'hub/test/upsync-parse',
];
const filters = process.argv[2] === '--fast' ? FAST : process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = walk(join(root, 'packages'), [])
  .concat(walk(join(root, 'demo'), []))
  .concat(walk(join(root, 'bench'), []))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// A test that hangs fails after 20 minutes (the longest takes about 4) instead of holding the run until
// CI's own limit, which would report nothing about which one it was.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=1200000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MOAT_TEST: '1' } },
);
process.exit(result.status ?? 1);
