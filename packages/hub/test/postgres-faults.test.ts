import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Client, createSiteWithKey, record, upsyncBody } from './support/hub-fixture.js';

/**
 * A PostgreSQL restart under ingest, with real processes: two hubs in child processes (a crash is an exit)
 * on one database of a throw-away cluster of this file's own (port 55433, so other tests' cluster is never
 * disturbed). The database is halted like a crash (immediate mode) while both hubs ingest, kept down until
 * both hubs have been seen answering 503, then started again. Timeouts here are guards against hangs only.
 */
const SCRIPT = fileURLToPath(new URL('../../../scripts/ensure-postgres.sh', import.meta.url));
const HUB_PROCESS = fileURLToPath(new URL('./support/hub-process.ts', import.meta.url));
const CLUSTER_ENV = { ...process.env, MOAT_PG_PORT: '55433', MOAT_PG_DATABASE: 'moat_faults' };
const GUARD_MS = 60_000;

function cluster(command?: 'halt' | 'stop'): string {
  const result = spawnSync('bash', command ? [SCRIPT, command] : [SCRIPT], {
    encoding: 'utf8', timeout: 240_000, env: CLUSTER_ENV, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) throw new Error(`ensure-postgres.sh ${command ?? ''} failed (${result.status}): ${result.stderr}`);
  return result.stdout.trim().split('\n').pop() ?? '';
}

interface HubProcess {
  name: string;
  child: ChildProcess;
  url: string;
  stderr: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

async function startHubProcess(name: string, dataDir: string, databaseUrl: string, keyFile: string): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HUB_PROCESS, dataDir, databaseUrl, keyFile], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env },
  });
  const hub: HubProcess = { name, child, url: '', stderr: [], exit: undefined };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => hub.stderr.push(...chunk.split('\n').filter((line) => line !== '')));
  child.on('exit', (code, signal) => { hub.exit = { code, signal }; });
  hub.url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const guard = setTimeout(() => reject(new Error(`hub ${name} did not start: ${hub.stderr.join('\n')}`)), GUARD_MS);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(guard); resolve((JSON.parse(line) as { url: string }).url); }
    });
    child.once('exit', (code) => { clearTimeout(guard); reject(new Error(`hub ${name} exited (${code}): ${hub.stderr.join('\n')}`)); });
  });
  return hub;
}

/** Polls until `done()` holds; fails with `what` after the guard. */
async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`guard: gave up waiting for ${what}`);
    await sleep(25);
  }
}

/** Counts of one hub's upsync answers, and the request ids of every batch it acknowledged with 200. */
interface IngestTally {
  ok: number;
  unavailable: number;
  /** Any other answer: a 500, another error, or a connection failure (a dead hub). */
  other: string[];
  acknowledged: string[];
}

/** Two concurrent senders of 25-record batches with unique request ids, until stop() is called. */
function ingestUnderLoad(hubUrl: string, apiKey: string, tag: string): { tally: IngestTally; stop(): Promise<void> } {
  const tally: IngestTally = { ok: 0, unavailable: 0, other: [], acknowledged: [] };
  let stopped = false;
  let seq = 0;
  const sender = async () => {
    while (!stopped) {
      const ids = Array.from({ length: 25 }, (_, i) => `${tag}-${seq}-${i}`);
      seq += 1;
      try {
        const response = await fetch(`${hubUrl}/v2/upsync/${apiKey}`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify(upsyncBody(ids.map((id) => record({ request_id: id })))),
        });
        const body = await response.text();
        if (response.status === 200) {
          tally.ok += 1;
          tally.acknowledged.push(...ids);
        } else if (response.status === 503 && (JSON.parse(body) as { error?: string }).error === 'database_unavailable') {
          tally.unavailable += 1;
        } else {
          tally.other.push(`${response.status} ${body.slice(0, 200)}`);
        }
      } catch (error) {
        tally.other.push(`fetch failed: ${(error as Error).message}`);
        await sleep(50);
      }
    }
  };
  const senders = [sender(), sender()];
  return {
    tally,
    stop: async () => {
      stopped = true;
      await Promise.all(senders);
    },
  };
}

/** The hub's /readyz status; a hub that died fails the test here with its exit and stderr. */
async function readyStatus(hub: HubProcess): Promise<number> {
  try {
    return (await fetch(`${hub.url}/readyz`)).status;
  } catch (error) {
    await sleep(200); // let the exit event arrive
    throw new Error(`hub ${hub.name} does not answer (${(error as Error).message}); exit ${JSON.stringify(hub.exit)}:\n${hub.stderr.join('\n')}`);
  }
}

describe('two hubs survive a PostgreSQL restart under ingest', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-pg-faults-'));
  const run = randomBytes(4).toString('hex');
  let databaseUrl: string;
  let hubs: HubProcess[] = [];

  before(async () => {
    databaseUrl = cluster();
    const keyFile = join(scratch, 'signing-key.pem');
    // One after the other: the first start creates the admin; a parallel start is the other suite's topic.
    hubs.push(await startHubProcess('A', join(scratch, 'a'), databaseUrl, keyFile));
    hubs.push(await startHubProcess('B', join(scratch, 'b'), databaseUrl, keyFile));
  });

  after(async () => {
    for (const hub of hubs) {
      if (hub.exit) continue;
      const exited = new Promise((resolve) => hub.child.once('exit', resolve));
      hub.child.kill('SIGTERM');
      await Promise.race([exited, sleep(GUARD_MS)]);
      if (!hub.exit) hub.child.kill('SIGKILL');
    }
    hubs = [];
    cluster('stop');
    rmSync(scratch, { recursive: true, force: true });
  });

  it('keeps both hub processes alive, answers 503 while the database is down, recovers, and loses nothing acknowledged', async () => {
    const [a, b] = hubs as [HubProcess, HubProcess];
    const admin = new Client(a.url);
    assert.equal((await admin.login()).status, 303);
    const { apiKey } = await createSiteWithKey(admin, `faults ${run}`);
    assert.equal(await readyStatus(a), 200);
    assert.equal(await readyStatus(b), 200);

    const loads = [ingestUnderLoad(a.url, apiKey, `${run}-a`), ingestUnderLoad(b.url, apiKey, `${run}-b`)];
    await until('ingest through both hubs', () => loads.every((l) => l.tally.ok >= 10));

    cluster('halt');
    const downAt = Date.now();
    await until('/readyz 503 on both hubs', async () => (await readyStatus(a)) === 503 && (await readyStatus(b)) === 503);
    const notReady = (await (await fetch(`${a.url}/readyz`)).json()) as { ready: boolean; error: string };
    assert.deepEqual([notReady.ready, notReady.error], [false, 'database_unavailable']);
    // The liveness endpoint stays 200: an orchestrator must not restart hubs for a database outage.
    assert.equal((await fetch(`${a.url}/healthz`)).status, 200);
    await until('ingest answered 503 database_unavailable by both hubs', () => loads.every((l) => l.tally.unavailable >= 1));
    // A dashboard request that needs the database: 503 with the stable error code, not a 500.
    const dashboard = await admin.request('/api/me');
    assert.equal(dashboard.status, 503);
    assert.equal(((await dashboard.json()) as { error: string }).error, 'database_unavailable');

    cluster();
    const downMs = Date.now() - downAt;
    await until('/readyz 200 on both hubs', async () => (await readyStatus(a)) === 200 && (await readyStatus(b)) === 200);
    const okAtRecovery = loads.map((l) => l.tally.ok);
    await until('ingest through both hubs after the restart', () => loads.every((l, i) => l.tally.ok >= okAtRecovery[i]! + 10));
    await Promise.all(loads.map((l) => l.stop()));

    for (const hub of hubs) {
      assert.equal(hub.exit, undefined, `hub ${hub.name} exited: ${JSON.stringify(hub.exit)}\n${hub.stderr.join('\n')}`);
      assert.ok(!hub.stderr.some((line) => /Unhandled|uncaught/i.test(line)), hub.stderr.join('\n'));
    }
    for (const load of loads) assert.deepEqual(load.tally.other, [], 'every answer was 200 or 503 database_unavailable');

    // Nothing acknowledged with 200 was lost.
    const acknowledged = loads.flatMap((l) => l.tally.acknowledged);
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ request_id: string }>('SELECT DISTINCT request_id FROM reports WHERE request_id LIKE $1', [`${run}-%`]);
      const stored = new Set(rows.map((r) => r.request_id));
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acknowledged.length} acknowledged reports are missing`);
    } finally {
      await db.end();
    }

    // The outage is logged, not flooded: one line when it starts, at most one a minute while it lasts, one when it ends.
    for (const hub of hubs) {
      const outageLines = hub.stderr.filter((line) => line.includes('PostgreSQL'));
      assert.ok(outageLines.some((line) => line.includes('PostgreSQL is unavailable')), `${hub.name}: ${hub.stderr.join('\n')}`);
      assert.ok(outageLines.some((line) => line.includes('PostgreSQL is back')), `${hub.name}: ${hub.stderr.join('\n')}`);
      assert.ok(outageLines.length <= 2 + Math.ceil(downMs / 60_000), `${hub.name} logged ${outageLines.length} lines:\n${outageLines.join('\n')}`);
      assert.ok(!outageLines.some((line) => line.includes('postgres://')), 'the database URL is never logged');
    }
  });
});
