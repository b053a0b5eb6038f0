// The CLI under Bun and Deno, which cannot load better-sqlite3's addon: `compile`, `rules add` and `data
// build` write their files through the runtime's own SQLite (bun:sqlite, node:sqlite), so an app on Bun or
// Deno alone can make its rules and data files. Each file must hold what the same command writes under
// Node with better-sqlite3: the same hash, and the same rows in every table read back by better-sqlite3.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = 'packages/moat/src/cli/main.ts';
const requireHere = createRequire(import.meta.url);
const RUNTIMES: Record<string, string[]> = {
  node: [process.execPath, '--import', 'tsx', CLI],
  bun: [join(dirname(requireHere.resolve('bun/package.json')), 'bin', 'bun.exe'), CLI],
  deno: [join(dirname(requireHere.resolve('deno/package.json')), 'deno'), 'run', '--allow-read', '--allow-write', '--allow-env', '--allow-sys',
    '--config', 'examples/deno/deno.json', CLI],
};

/** Every kind of rule, attack settings with a named header, and a rate limit. */
const DOCUMENT = {
  allow: { ips: ['192.0.2.1'] },
  block: {
    ips: ['198.51.100.0/24', '2001:db8::/32'], countries: ['BE'], asns: ['AS19281'], lists: ['tor'], userAgents: ['sqlmap'], paths: ['/wp-admin'],
    params: ['<script'], hosts: ['admin.example.com'], methods: ['TRACE'],
  },
  rateLimits: [{ path: '/login', method: 'POST', limit: 5, window: '60s' }],
  attacks: { sqli: 'block', xss: 'monitor', headers: ['x-search'] },
};

const dir = mkdtempSync(join(tmpdir(), 'moat-cli-runtimes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const documentPath = join(dir, 'rules.json');
writeFileSync(documentPath, JSON.stringify(DOCUMENT));
const FIXTURES = 'packages/moat/test/fixtures/data';

function run(runtime: string, args: string[]): string {
  const [command, ...pre] = RUNTIMES[runtime]!;
  return execFileSync(command!, [...pre, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
}

/** Every table's rows, sorted, read with better-sqlite3 (BLOBs as hex), but the time the file was built. */
function rows(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      out[table] = (db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[])
        // When the file was written is no part of what it holds.
        .filter((r) => !(table === 'meta' && r.key === 'built_at'))
        .map((r) => JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))
        .sort();
    }
    return out;
  } finally {
    db.close();
  }
}

/** The hash the command prints (`hash <16 hex>`). */
const hashOf = (output: string) => /hash ([0-9a-f]{16})/.exec(output)?.[1];

describe('the CLI under Bun and Deno writes the files Node writes', () => {
  const node = {
    rules: join(dir, 'node-rules.moat'), edited: join(dir, 'node-edited.moat'), data: join(dir, 'node-data.moat'),
    compiled: '', built: '',
  };
  const dataArgs = (out: string) => ['data', 'build', '--country', `${FIXTURES}/country.csv`, '--asn', `${FIXTURES}/asn.csv`, '--list', `drop=${FIXTURES}/drop.txt`,
    '--list', `tor=${FIXTURES}/tor-exit-addresses.txt`, '-o', out];

  it('node: the reference files', () => {
    node.compiled = run('node', ['compile', documentPath, '-o', node.rules]);
    run('node', ['compile', documentPath, '-o', node.edited]);
    run('node', ['rules', 'add', '--rules', node.edited, 'block', 'path', '/private', '--note', 'added later']);
    node.built = run('node', ['data', 'build', ...dataArgs(node.data).slice(2)]);
    assert.match(node.compiled, /hash [0-9a-f]{16}/);
  });

  for (const runtime of ['bun', 'deno']) {
    it(`${runtime}: compile, rules add and data build`, () => {
      const rulesFile = join(dir, `${runtime}-rules.moat`);
      const compiled = run(runtime, ['compile', documentPath, '-o', rulesFile]);
      assert.equal(hashOf(compiled), hashOf(node.compiled), compiled);
      assert.deepEqual(rows(rulesFile), rows(node.rules));
      // An edit reads the file and writes a new one beside it.
      const edited = join(dir, `${runtime}-edited.moat`);
      run(runtime, ['compile', documentPath, '-o', edited]);
      run(runtime, ['rules', 'add', '--rules', edited, 'block', 'path', '/private', '--note', 'added later']);
      assert.deepEqual(rows(edited), rows(node.edited));
      const dataFile = join(dir, `${runtime}-data.moat`);
      const built = run(runtime, ['data', 'build', ...dataArgs(dataFile).slice(2)]);
      assert.equal(hashOf(built), hashOf(node.built), built);
      assert.deepEqual(rows(dataFile), rows(node.data));
      // And the runtime reads back what it wrote: a blocked path, and an address in the Tor list.
      const check = run(runtime, ['check', '--rules', rulesFile, '--data', dataFile, '--ip', '203.0.113.9', '--path', '/wp-admin/x', '--json']);
      assert.equal((JSON.parse(check) as { treatment: string }).treatment, 'Blocked', check);
    });
  }
});
