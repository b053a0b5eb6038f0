/**
 * The hub's real entry point (src/main.ts) in a child process, for tests of the command line, its logs
 * and faults that need a process to die: stdout and stderr are kept apart (the banner goes to stdout,
 * the JSON log to stderr).
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface MainProcess {
  child: ChildProcess;
  /** stdout and stderr, in arrival order. */
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs main.ts with only the given MOAT_HUB_* variables (none inherited from the test's environment). */
export function runMain(args: string[], env: Record<string, string> = {}): MainProcess {
  const inherited = { ...process.env };
  for (const name of Object.keys(inherited)) if (name.startsWith('MOAT_HUB_')) delete inherited[name];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited };
}

/**
 * Waits until the hub printed its last start-up line, the public key (or exited); the deadline only
 * guards a hang (a first start builds the default data file, which takes a while on a busy machine).
 */
export async function waitForStart(started: MainProcess): Promise<string> {
  const deadline = Date.now() + 600_000;
  while (!/Signing public key/.test(started.output()) && Date.now() < deadline && started.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(started.output())?.[1];
  assert.ok(url, started.output());
  return url;
}

/** SIGTERM, and the hub must exit 0 (a clean stop). */
export async function stopMain(started: MainProcess): Promise<void> {
  if (started.child.exitCode !== null) return;
  started.child.kill('SIGTERM');
  assert.equal(await started.exited, 0, started.output());
}

/** Kills a process that is still running (test clean-up). */
export function killMain(started: MainProcess): void {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
}
