// The whole tree type-checks: both packages' sources, every test, the benches, the scripts and the examples
// (the root tsconfig.json). The package builds check only src/, and tsx runs tests without checking types,
// so without this a type error in a test or an example goes unnoticed. A test rather than a step of
// scripts/test.sh: it runs with the suite it guards and reports beside it, and `node scripts/test.mjs
// typecheck` runs it alone.
//
// `moat-waf` imports (hub, examples) resolve to packages/moat/dist, which npm test's set-up step builds;
// after editing packages/moat/src without `npm test`, run `npx tsc -b packages/moat` first.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ROOT } from './helpers/cli-build.js';

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Runs tsc on the root project; resolves with its exit code and what it printed (the errors). */
function typeCheckTree(): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '-p', 'tsconfig.json', '--noEmit', '--pretty', 'false'], { cwd: ROOT, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error === null) resolve({ code: 0, output: stdout + stderr });
      else if (typeof error.code === 'number') resolve({ code: error.code, output: stdout + stderr });
      else reject(error); // tsc did not run, or printed more than the buffer holds
    });
  });
}

// The timeout only guards a hang: a full check takes tens of seconds, longer on a busy machine.
test('the whole tree (packages, tests, bench, scripts, examples) type-checks under the root tsconfig.json', { timeout: 900_000 }, async () => {
  const { code, output } = await typeCheckTree();
  const errors = output.split('\n').filter((line) => / error TS\d+:/.test(line));
  assert.equal(code, 0, `tsc -p tsconfig.json failed (exit ${code}) with ${errors.length} errors:\n${output.trim()}`);
  assert.deepEqual(errors, []);
});
