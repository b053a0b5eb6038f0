/**
 * PostgreSQL for the hub bench: a throw-away database on the cluster scripts/ensure-postgres.sh runs on
 * 127.0.0.1 (or MOAT_TEST_POSTGRES_URL), or the reason there is none. The bench reports that reason in
 * its PostgreSQL rows instead of failing: a machine without PostgreSQL still gets the SQLite figures.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const SCRIPT = fileURLToPath(new URL('../scripts/ensure-postgres.sh', import.meta.url));

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Resolves true when something accepts TCP connections on 127.0.0.1:port within a second. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (up: boolean) => { socket.destroy(); resolve(up); };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/**
 * The server's URL, or why there is none. With `start: false` (quick runs) a cluster that is not already
 * up is not started, since installing or initialising one takes far longer than the quick run itself.
 */
export async function benchPostgresUrl(start: boolean): Promise<{ url: string } | { unavailable: string }> {
  const fromEnv = process.env.MOAT_TEST_POSTGRES_URL;
  if (fromEnv) return { url: fromEnv };
  const port = Number(process.env.MOAT_PG_PORT ?? 55432);
  if (!start && !(await listening(port))) return { unavailable: `PostgreSQL not available (quick run; no cluster running on 127.0.0.1:${port})` };
  const result = spawnSync('bash', [SCRIPT], { encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = result.stdout?.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !/^postgres(ql)?:\/\//.test(url)) {
    const why = (result.stderr ?? '').trim().split('\n').pop() || result.error?.message || `exit status ${result.status}`;
    return { unavailable: `PostgreSQL not available (scripts/ensure-postgres.sh: ${why})` };
  }
  return { url };
}

/** A new, empty database on the server at `serverUrl`; drop() removes it. */
export async function freshBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `moat_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
