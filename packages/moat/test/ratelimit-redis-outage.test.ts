// Fault: the shared rate-limit Redis stops (frozen by SIGSTOP: connections stay open, nothing answers;
// or shut down by SIGTERM: connections close, reconnects are refused) and comes back, while three app
// processes serve traffic. Each app is set up as docs/deploy.md says (createRedisClient, default console
// loggers), and the test reads what each process prints: the apps keep answering (limited locally), the
// outage costs a few lines per app instead of one per reconnect attempt, a recovery line follows Redis's
// return, and the limit is shared again afterwards.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeRulesFile } from '../src/index.js';
import type { FirewallStats } from '../src/index.js';
import type { RedisRateLimitStats } from '../src/ratelimit/redis.js';
import { makeTmpDir, rateLimit, removeDir } from './helpers/engine-kit.js';
import { closedPort, redisServer, uniquePrefix } from './helpers/ratelimit-kit.js';

const APP = new URL('./helpers/redis-outage-app.ts', import.meta.url).pathname;
const LIMIT = 4;
const GUARD_MS = 120_000; // hang guards only; nothing here asserts a speed

type Phase = 'before' | 'outage' | 'after';

interface AppStats {
  store: RedisRateLimitStats;
  firewall: FirewallStats;
  connectionErrors: number;
}

interface App {
  port: number;
  /** Every line the process printed (stdout and stderr), tagged with the test phase it arrived in. */
  lines: { phase: Phase; text: string }[];
  stats(): Promise<AppStats>;
  close(): Promise<void>;
}

let phase: Phase = 'before';

async function startApp(options: { rules: string; redisUrl: string; prefix: string }): Promise<App> {
  const child = fork(APP, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const lines: App['lines'] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ phase, text });
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiters: ((s: AppStats) => void)[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('app process did not start')), GUARD_MS);
    child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`app process exited with ${code}: ${lines.map((l) => l.text).join('\n')}`)); });
    child.on('message', (m: { type: string; port: number } & AppStats) => {
      if (m.type === 'ready') { clearTimeout(guard); resolve(m.port); }
      if (m.type === 'stats') waiters.shift()?.(m);
    });
  });
  return {
    port, lines,
    stats: () => new Promise((resolve) => { waiters.push(resolve); child.send({ type: 'stats' }); }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'close' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}


async function get(app: App, client: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${app.port}/login`, { headers: { 'x-forwarded-for': client } });
  await res.text();
  return res.status;
}

/** `n` requests of one client, round-robin over the apps, one at a time; the number that passed. */
async function passed(apps: App[], n: number, client: string): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await get(apps[i % apps.length]!, client)) === 200) ok++;
  return ok;
}

/** Traffic from 30 clients on every app until stop(); every answer is kept. */
function backgroundLoad(apps: App[]): { statuses: number[]; stop(): Promise<void> } {
  const statuses: number[] = [];
  let running = true;
  const loops = apps.map(async (app, a) => {
    for (let i = 0; running; i++) statuses.push(await get(app, `10.2.${a}.${i % 10}`).catch(() => -1));
  });
  return { statuses, stop: async () => { running = false; await Promise.all(loops); } };
}

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`guard: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Log entries (a console line starting `[moat]`; an object printed with it may wrap onto more lines). */
const entries = (app: App, which: Phase) => app.lines.filter((l) => l.phase === which && l.text.startsWith('[moat]'));

describe('shared rate limits when Redis stops and resumes under load (three app processes)', () => {
  let dir: string;
  let rules: string;
  before(() => {
    dir = makeTmpDir();
    rules = path.join(dir, 'rules.db');
    writeRulesFile([rateLimit('/login', LIMIT, '1m', { id: 'login' })], rules);
  });
  after(() => removeDir(dir));

  for (const signal of ['SIGSTOP', 'SIGTERM'] as const) {
    it(`Redis ${signal === 'SIGSTOP' ? 'frozen (SIGSTOP) and continued' : 'shut down (SIGTERM) and started again'}: apps keep answering, at most 3 log entries per app for the outage, one recovery entry, then one shared limit again`, async () => {
      phase = 'before';
      const port = await closedPort();
      let server = await redisServer(port);
      const apps: App[] = [];
      let load: ReturnType<typeof backgroundLoad> | undefined;
      try {
        const options = { rules, redisUrl: `redis://127.0.0.1:${port}`, prefix: uniquePrefix() };
        apps.push(...await Promise.all([startApp(options), startApp(options), startApp(options)]));
        assert.equal(await passed(apps, 3 * LIMIT, '10.1.0.1'), LIMIT, 'one shared limit across three apps');

        load = backgroundLoad(apps);
        phase = 'outage';
        if (signal === 'SIGSTOP') {
          server.kill('SIGSTOP');
        } else {
          const exited = once(server, 'exit');
          server.kill('SIGTERM');
          await exited;
        }
        // The outage lasts until every app has failed to reach Redis several times (and, when Redis is
        // gone, every client has failed to reconnect several times): what would flood a naive log.
        await until('repeated failures in every app', async () => (await Promise.all(apps.map((a) => a.stats()))).every((s) =>
          s.store.timeouts + s.store.errors >= 3 && (signal === 'SIGSTOP' || s.connectionErrors >= 4)));
        // The bound while Redis is away: each app's local limiter starts empty, so a new client gets the
        // limit once per app.
        assert.equal(await passed(apps, 3 * LIMIT + 3, '10.3.0.1'), 3 * LIMIT, 'at most apps × limit during the outage');
        const during = await Promise.all(apps.map((a) => a.stats()));

        phase = 'after';
        if (signal === 'SIGSTOP') server.kill('SIGCONT');
        else server = await redisServer(port);
        await until('a recovery in every app', async () => (await Promise.all(apps.map((a) => a.stats()))).every((s) => s.store.recoveries >= 1));
        await until('a recovery line from every app', async () => apps.every((a) => entries(a, 'after').some((l) => /answers again/.test(l.text))));
        await load.stop();
        assert.ok(load.statuses.length > 0 && load.statuses.every((s) => s === 200 || s === 429),
          `every request answered by the app or the limiter: ${[...new Set(load.statuses)].join(', ')}`);

        assert.equal(await passed(apps, 3 * LIMIT, '10.4.0.1'), LIMIT, 'one shared limit across three apps again');

        for (const [i, app] of apps.entries()) {
          const failures = during[i]!.store.timeouts + during[i]!.store.errors + during[i]!.connectionErrors;
          const outage = entries(app, 'outage');
          assert.ok(outage.length >= 1, `app ${i} said the shared store failed`);
          assert.ok(outage.length <= 3, `app ${i}: ${outage.length} lines for ${failures} failures:\n${outage.map((l) => l.text).join('\n')}`);
          assert.equal(entries(app, 'after').filter((l) => /answers again/.test(l.text)).length, 1, `app ${i}: one recovery line`);
          const all = app.lines.map((l) => l.text).join('\n');
          // ioredis without an error listener prints this, with a stack, for every failed reconnect.
          assert.doesNotMatch(all, /Unhandled error event|\[ioredis\]/, `app ${i}: nothing printed outside Moat's loggers`);
          assert.doesNotMatch(all, new RegExp(`redis://127\\.0\\.0\\.1:${port}`), `app ${i}: never the Redis URL`);
        }
      } finally {
        await load?.stop();
        await Promise.all(apps.map((a) => a.close()));
        if (server.exitCode === null && server.signalCode === null) {
          server.kill('SIGCONT');
          const exited = once(server, 'exit');
          server.kill('SIGKILL');
          await exited;
        }
      }
    });
  }
});
