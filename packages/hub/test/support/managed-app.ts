// Starts managed-app-process.ts (a node:http app behind a Moat managed firewall) as a child process,
// for end-to-end tests with app instances behind a hub; resolves once its firewall has rules and it listens.
import { fork, type ChildProcess } from 'node:child_process';

const APP = new URL('./managed-app-process.ts', import.meta.url).pathname;

export interface ManagedApp {
  url: string;
  /** The firewall's status() in the child, as JSON. */
  status(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * `options` are createManagedFirewall's, as JSON; `execPath` runs the app under another Node.js binary,
 * with `execArgv` before tsx's loader (`--permission`), or under Bun or Deno (`tsx: false`: they run
 * TypeScript themselves; `execArgv` is then all that comes before the app, e.g. `run --allow-read`).
 */
export async function startManagedApp(options: object, process: { execPath?: string; execArgv?: string[]; tsx?: boolean } = {}): Promise<ManagedApp> {
  const loader = process.tsx === false ? [] : ['--import', 'tsx'];
  const child: ChildProcess = fork(APP, [JSON.stringify(options)], {
    execArgv: [...(process.execArgv ?? []), ...loader], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(process.execPath === undefined ? {} : { execPath: process.execPath }),
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (m: { type: string; url?: string }) => {
      if (m.type === 'ready') resolve(m.url!);
    });
    child.once('exit', (code) => reject(new Error(`app process exited (${code}) before it was ready`)));
  });
  return {
    url,
    status: () => new Promise((resolve) => {
      const onMessage = (m: { type: string; status?: Record<string, unknown> }) => {
        if (m.type !== 'status') return;
        child.off('message', onMessage);
        resolve(m.status!);
      };
      child.on('message', onMessage);
      child.send({ type: 'status' });
    }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'close' });
      await exited;
    },
  };
}
