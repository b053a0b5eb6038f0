// The demo as a person runs it, in a child process: `demo/start.ts` on free ports in a chosen folder.
// Used by the tests that walk through `npm start` and by scripts/screenshots.ts, so both exercise exactly
// what `npm start` runs.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { DemoState } from './demo-state.js';

const START = join(import.meta.dirname, 'start.ts');
const BANNER_END = 'Ctrl-C stops everything.';

export interface DemoProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<number | null>;
  /** Resolves with demo.json once the start banner is printed; rejects if the demo exits first or after `guardMs`. */
  whenRunning(guardMs?: number): Promise<DemoState>;
  /** SIGTERM, as Ctrl-C would; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the demo in `root` with `args` (e.g. `--fresh`). Ports are 0 (free ones) and the traffic is
 * light unless `env` says otherwise; MOAT_HUB_ADMIN_PASSWORD is cleared so the demo picks its own.
 */
export function startDemoProcess(root: string, args: string[] = [], env: Record<string, string> = {}): DemoProcess {
  let text = '';
  const child = spawn(process.execPath, ['--import', 'tsx', START, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, MOAT_DEMO_DIR: root, MOAT_HUB_PORT: '0', MOAT_DEMO_SHOP_PORT: '0',
      MOAT_DEMO_MINUTES: '10', MOAT_DEMO_RATE: '4', MOAT_HUB_ADMIN_PASSWORD: '', ...env,
    },
  });
  child.stdout!.on('data', (chunk: Buffer) => { text += chunk; });
  child.stderr!.on('data', (chunk: Buffer) => { text += chunk; });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return {
    child,
    output: () => text,
    exited,
    async whenRunning(guardMs = 300_000) {
      const deadline = Date.now() + guardMs;
      while (!text.includes(BANNER_END)) {
        if (child.exitCode !== null) throw new Error(`the demo exited with code ${child.exitCode}:\n${text}`);
        if (Date.now() > deadline) throw new Error(`the demo did not start within ${guardMs} ms (a hang guard):\n${text}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      return JSON.parse(readFileSync(join(root, 'demo.json'), 'utf8')) as DemoState;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Status of one request to the demo shop as client `ip` (the shop trusts X-Forwarded-For from loopback), sent as curl would. */
export function shopStatus(shopUrl: string, path: string, ip: string): Promise<number> {
  const url = new URL(shopUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers: { 'x-forwarded-for': ip, 'user-agent': 'curl/8.5.0' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls the shop until `ip` gets `status` (rule changes arrive by polling); fails after a generous hang guard. */
export async function untilShopStatus(shopUrl: string, path: string, ip: string, status: number, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = await shopStatus(shopUrl, path, ip);
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${ip} ${path}: still ${last}, expected ${status} after ${guardMs} ms (a hang guard)`);
}
