/**
 * PostgreSQL for tests: MOAT_TEST_POSTGRES_URL when set (CI), otherwise the throw-away cluster that
 * scripts/ensure-postgres.sh installs/starts on 127.0.0.1. Never skips: no server means a failing test.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const SCRIPT = fileURLToPath(new URL('../../../../scripts/ensure-postgres.sh', import.meta.url));

let cached: string | undefined;

export function postgresUrl(): string {
  if (cached) return cached;
  const fromEnv = process.env.MOAT_TEST_POSTGRES_URL;
  if (fromEnv) return (cached = fromEnv);
  // Bounded: an apt-get install on a fresh machine takes a minute or two; a running cluster, milliseconds.
  const result = spawnSync('bash', [SCRIPT], { encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = result.stdout?.trim().split('\n').pop() ?? '';
  if (result.status !== 0 || !/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`scripts/ensure-postgres.sh failed (status ${result.status}${result.error ? `, ${result.error.message}` : ''}); `
      + `set MOAT_TEST_POSTGRES_URL or fix the script:\n${result.stderr}`);
  }
  return (cached = url);
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A new, empty database on the test server, so test files running in parallel never share tables.
 * `cLocale`: collation and character classes of the C locale (lower() folds ASCII letters only), not the server's.
 */
export async function freshDatabase(prefix = 'moat_t', options: { cLocale?: boolean } = {}): Promise<TestDatabase> {
  const base = new URL(postgresUrl());
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    const locale = options.cLocale ? " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'" : '';
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}${locale}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: base.toString() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
