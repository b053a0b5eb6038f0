// Node.js 22 and 24, the long-term-support lines after the project's own: the client's TypeScript source
// run by each release's official binary (scripts/ensure-node-runtimes.sh fetches them from the npm
// registry), in a node:http server judged by the Node path and in a fetch handler judged by the Web path.
// better-sqlite3's addon here is built for the project's Node.js and does not load in them, so the rules
// and data files are read through node:sqlite, Moat's fallback. The shared conformance set runs against
// each server on real sockets; a rules and data file read there decide as better-sqlite3 does here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, webRuntimeConformance } from './helpers/web-runtime-conformance.js';
import { STANDARD_RULES, rulesFile } from './adapters-helpers.js';

const VERSIONS = ['22.23.3', '24.22.3'];
const FIXTURE = 'packages/moat/test/fixtures/node-runtime-server.ts';

function nodeBinary(version: string): string {
  const bin = join(ROOT, 'node_modules', '.cache', 'node-runtimes', version, 'bin', 'node');
  assert.ok(existsSync(bin), `Node.js ${version} is not there: run bash scripts/ensure-node-runtimes.sh (npm test does)`);
  return bin;
}

/** The fixture's first line, once it listens. */
function banner(bin: string, env: Record<string, string>): Promise<string> {
  const child = spawn(bin, ['--import', 'tsx', FIXTURE], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('listening on'));
      if (line !== undefined) {
        child.kill();
        resolve(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the fixture exited (${code}):\n${output}`)));
  });
}

for (const version of VERSIONS) {
  const run = () => ({ command: nodeBinary(version), args: ['--import', 'tsx', FIXTURE] });

  test(`node ${version}: the fixture runs under that release, where better-sqlite3's addon does not load (node:sqlite reads the files)`, async () => {
    const rules = rulesFile(STANDARD_RULES);
    try {
      for (const server of ['node', 'fetch'] as const) {
        const line = await banner(nodeBinary(version), { MOAT_RULES: rules.path, MOAT_SERVER: server });
        assert.ok(line.includes(`node v${version}, ${server}, better-sqlite3 does not load (`), line);
      }
    } finally {
      rules.cleanup();
    }
  });

  webRuntimeConformance(`node ${version} (node:http)`, run, { env: { MOAT_SERVER: 'node' }, contentTypeLists: false });
  webRuntimeConformance(`node ${version} (fetch handler)`, run, { env: { MOAT_SERVER: 'fetch' } });
}
