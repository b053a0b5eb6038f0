import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('hub entry point', () => {
  it('starts on a data dir, creates the admin from the environment and a demo site, prints URL and login, stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-main-'));
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--data-dir', dataDir, '--port', '0', '--demo'], {
      env: { ...process.env, MOAT_HUB_ADMIN_EMAIL: 'ops@example.test', MOAT_HUB_ADMIN_PASSWORD: 'from the environment' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    try {
      const deadline = Date.now() + 15_000;
      while (!/Signing public key/.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      assert.ok(url, output);
      assert.match(output, /Sign in: ops@example\.test/);
      assert.doesNotMatch(output, /from the environment/, 'the configured password is not printed');
      const key = /Demo site API key: (moat_\S+)/.exec(output)?.[1];
      assert.ok(key);
      assert.equal((await fetch(`${url}/login`)).status, 200);
      const rules = await fetch(`${url}/v2/downsync/custom_rules/${key}`);
      assert.equal(rules.status, 200);
      await rules.arrayBuffer();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
