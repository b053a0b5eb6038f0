// Fault: a hub process dies (SIGKILL: an OOM kill, a node that vanishes) after it stored a report batch
// but before its 200 left the machine. The Moat client never hears the answer, so it sends the batch
// again — to a hub started again on the same data. That retry must be answered, not stored a second time.
// Real parts: the hub's own entry point (src/main.ts) as a child process, on SQLite and on PostgreSQL;
// a real managed firewall serving a node:http app; a TCP proxy between them that holds the hub's first
// upsync answer (so the kill lands deterministically after the commit) and kills the hub instead of
// forwarding it.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createManagedFirewall } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';
import { killMain, runMain, stopMain, waitForStart, type MainProcess } from '../support/main-process.js';
import { freshDatabase } from '../support/postgres.js';
import { UpsyncAnswerProxy } from '../support/upsync-answer-proxy.js';

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000; // a guard against a hang only
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface StoredCounts {
  reports: number;
  requestIds: number;
  /** Rows the batch records say were stored: a batch recorded twice would count twice. */
  batchRows: number;
}

/**
 * Starts the hub (args/env choose the store), sends `requests` reports through a managed client whose
 * first batch's answer is lost to a SIGKILL, restarts the hub on the same data, and returns what the
 * hub stored once it is stopped.
 */
async function killedMidBatch(args: string[], env: Record<string, string>, requests: number, count: () => Promise<StoredCounts>): Promise<{ counts: StoredCounts; answers: string[]; failures: number }> {
  let hub: MainProcess = runMain(args, env);
  const processes = [hub];
  const killAndRestart = async () => {
    const exited = once(hub.child, 'exit');
    hub.child.kill('SIGKILL');
    await exited;
    hub = runMain(args.filter((a) => a !== '--demo'), env);
    processes.push(hub);
    proxy.hubPort = Number(new URL(await waitForStart(hub)).port);
  };
  // The first upsync answer (the hub has committed) is never forwarded: the hub is killed and restarted,
  // then the client's connection is cut.
  const proxy = new UpsyncAnswerProxy(0, (index, client) => {
    if (index > 0) return 'forward';
    client.pause();
    void killAndRestart().then(() => client.destroy());
    return 'withhold';
  });
  const dir = mkdtempSync(join(tmpdir(), 'moat-hub-kill-'));
  let app: Server | undefined;
  let fw: ReturnType<typeof createManagedFirewall> | undefined;
  try {
    const url = await waitForStart(hub);
    const apiKey = /Demo site API key: (moat_\S+)/.exec(hub.stdout())![1]!;
    proxy.hubPort = Number(new URL(url).port);
    const proxyUrl = await proxy.listen();
    fw = createManagedFirewall({
      apiKey, hubUrl: proxyUrl, dir, customRulesIntervalMs: 600_000, dataIntervalMs: 600_000, backoffBaseMs: 10, backoffMaxMs: 200,
      logger: false, env: {}, upsync: { batchSize: 40, flushIntervalMs: 100 },
    });
    const firewall = fw;
    await firewall.ready();
    app = createHttpServer(withMoat((_req, res) => { res.end('ok'); }, firewall));
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    for (let i = 0; i < requests; i++) await (await fetch(`${appUrl}/item/${i}`)).arrayBuffer();
    await waitFor(() => { const s = firewall.status().upsync; return s.sent === requests && s.queued === 0 && s.inFlight === 0; },
      `all ${requests} records sent (${JSON.stringify(firewall.status().upsync)})`);
    const failures = firewall.status().upsync.failures;
    await stopMain(hub);
    return { counts: await count(), answers: proxy.answers, failures };
  } finally {
    if (app) {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app!.close(() => resolve()));
    }
    await fw?.close();
    await proxy.close();
    for (const p of processes) killMain(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertStoredOnce(result: { counts: StoredCounts; answers: string[]; failures: number }, requests: number): void {
  const { counts, answers, failures } = result;
  assert.match(answers[0]!, /"accepted":[1-9]/, `the killed hub had stored the first batch: ${answers.join(' | ')}`);
  assert.ok(answers.slice(1).some((a) => a.includes('"duplicate":true')), `the restarted hub answered the retry as a duplicate: ${answers.join(' | ')}`);
  assert.ok(failures >= 1, 'the client saw the lost answer as a failure and retried');
  assert.deepEqual(counts, { reports: requests, requestIds: requests, batchRows: requests }, 'every report stored exactly once');
}

describe('a hub killed mid-batch: the client retry is stored once', () => {
  it('SQLite hub SIGKILLed after committing a batch, before its 200 reached the Moat client: restarted on the same data dir, it stores the retry once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-kill-data-'));
    try {
      const requests = 120;
      const result = await killedMidBatch(['--data-dir', dataDir, '--port', '0', '--demo', '--no-default-data'], {}, requests, async () => {
        const db = new Database(join(dataDir, 'hub.db'), { readonly: true });
        try {
          return {
            reports: db.prepare('SELECT count(*) FROM reports').pluck().get() as number,
            requestIds: db.prepare('SELECT count(DISTINCT request_id) FROM reports').pluck().get() as number,
            batchRows: db.prepare('SELECT sum(stored_rows) FROM upsync_batches').pluck().get() as number,
          };
        } finally {
          db.close();
        }
      });
      assertStoredOnce(result, requests);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL hub SIGKILLed after committing a batch, before its 200 reached the Moat client: restarted on the same database, it stores the retry once', async () => {
    const db = await freshDatabase('moat_kill');
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-kill-data-'));
    try {
      const requests = 120;
      const result = await killedMidBatch(['--data-dir', dataDir, '--port', '0', '--demo', '--no-default-data'], { MOAT_HUB_DATABASE_URL: db.url }, requests, async () => {
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try {
          const one = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
          return {
            reports: await one('SELECT count(*) AS n FROM reports'),
            requestIds: await one('SELECT count(DISTINCT request_id) AS n FROM reports'),
            batchRows: await one('SELECT sum(stored_rows) AS n FROM upsync_batches'),
          };
        } finally {
          await client.end();
        }
      });
      assertStoredOnce(result, requests);
    } finally {
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
