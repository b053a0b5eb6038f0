// The codes users match on, produced by the real thing: files on disk, options, rules, the sync path and
// the `moat-waf` command. Each asserts the code (and class), never the message.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyPairSync, sign } from 'node:crypto';
import Database from 'better-sqlite3';
import { MOAT_ERROR_CODES, type MoatErrorCode } from '../src/errors/codes.js';
import { MoatError, MoatFileError, OptionError } from '../src/errors/moat-error.js';
import { createFirewall } from '../src/firewall/firewall.js';
import type { MoatErrorEvent } from '../src/firewall/options.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { writeRulesFile } from '../src/format/write-rules.js';
import { buildDataFile } from '../src/data/build-data.js';
import { MemoryRateLimitStore } from '../src/engine/rate-limiter.js';
import { normalizeRule } from '../src/rules/normalize-rule.js';
import { parseRulesSource } from '../src/rules/document.js';
import { RuleError } from '../src/rules/rule-error.js';
import { resolveSyncOptions } from '../src/sync/managed-options.js';
import { SyncError } from '../src/sync/sync-error.js';
import { verifySignature } from '../src/sync/verify-download.js';
import { run } from '../src/cli/run.js';
import { parseRange } from '../src/ip/range.js';

async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'moat-errors-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asserts `fn` throws a MoatError of `cls` with `code`, and returns it. */
function throwsCode<E extends MoatError>(fn: () => unknown, cls: new (...args: never[]) => E, code: MoatErrorCode): E {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof cls, `expected a ${cls.name}, got ${String(thrown)}`);
  assert.ok(thrown instanceof MoatError, 'every Moat error is a MoatError');
  assert.equal(thrown.code, code);
  return thrown;
}

function blockAdminRules(path: string): void {
  writeRulesFile(normalizeRuleList([{ action: 'block', kind: 'path', value: '/admin' }]), path);
}

function normalizeRuleList(inputs: Parameters<typeof normalizeRule>[0][]) {
  return inputs.map((r) => normalizeRule(r));
}

test('rules files: missing, not SQLite, edited, from a newer Moat, of another kind: each has its own code', () => withDir((dir) => {
  throwsCode(() => loadRulesFile(join(dir, 'none.db')), MoatFileError, 'MOAT_ERR_FILE_MISSING');

  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, Buffer.alloc(4096, 'x'));
  throwsCode(() => loadRulesFile(garbage), MoatFileError, 'MOAT_ERR_FILE_CORRUPT');

  const edited = join(dir, 'edited.db');
  blockAdminRules(edited);
  const db = new Database(edited);
  db.prepare('UPDATE rules SET value = ?').run('/elsewhere');
  db.close();
  const corrupt = throwsCode(() => loadRulesFile(edited), MoatFileError, 'MOAT_ERR_FILE_CORRUPT');
  assert.equal(corrupt.path, edited);
  assert.ok(corrupt.cause instanceof MoatError, 'the check that failed is the cause');

  const newer = join(dir, 'newer.db');
  blockAdminRules(newer);
  const db2 = new Database(newer);
  db2.prepare("UPDATE meta SET value = '999' WHERE key = 'format_version'").run();
  db2.close();
  throwsCode(() => loadRulesFile(newer), MoatFileError, 'MOAT_ERR_FILE_VERSION');

  const data = join(dir, 'data.db');
  buildDataFile({ lists: [{ name: 'x', ranges: [parseRange('192.0.2.0/24')], summary: { name: 'x', kind: 'list', ranges: 1, invalidLines: 0 } }] }, data);
  throwsCode(() => loadRulesFile(data), MoatFileError, 'MOAT_ERR_FILE_KIND');
}));

test('invalid options throw OptionError (MOAT_ERR_OPTION_INVALID), wherever they are checked', () => {
  throwsCode(() => createFirewall({ logger: false, env: {}, trustedProxies: ['10.0.0.0/8', 'nonsense'] }), OptionError, 'MOAT_ERR_OPTION_INVALID');
  throwsCode(() => createFirewall({ logger: false, env: {}, ipHeaders: ['x-forwarded-for', 'x-real-ip'] }), OptionError, 'MOAT_ERR_OPTION_INVALID');
  throwsCode(() => resolveSyncOptions({ longPollSeconds: 9999 }, {}), OptionError, 'MOAT_ERR_OPTION_INVALID');
  throwsCode(() => resolveSyncOptions({ hubUrl: 'ftp://hub.example' }, {}), OptionError, 'MOAT_ERR_OPTION_INVALID');
  throwsCode(() => new MemoryRateLimitStore({ maxBytes: -1 }), OptionError, 'MOAT_ERR_OPTION_INVALID');
});

test('invalid rules throw RuleError (MOAT_ERR_RULE_INVALID), one rule or a whole document', () => {
  throwsCode(() => normalizeRule({ action: 'block', kind: 'ip', value: '1.2.3' }), RuleError, 'MOAT_ERR_RULE_INVALID');
  const doc = throwsCode(() => parseRulesSource('block:\n  ips: [1.2.3]\n  countries: [XX]\n', 'rules.yaml'), RuleError, 'MOAT_ERR_RULE_INVALID');
  assert.equal(doc.problems.length, 2, 'every problem is listed under the one code');
});

test('a download whose signature does not verify, or has none, is MOAT_ERR_SYNC_SIGNATURE', () => withDir((dir) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const file = join(dir, 'download.db');
  blockAdminRules(file);
  const forged = sign(null, Buffer.from('other bytes'), privateKey).toString('base64');
  const bad = throwsCode(() => verifySignature(file, publicKey, forged), SyncError, 'MOAT_ERR_SYNC_SIGNATURE');
  assert.equal(bad.reason, 'bad-signature', 'the finer reason stays');
  throwsCode(() => verifySignature(file, publicKey, null), SyncError, 'MOAT_ERR_SYNC_SIGNATURE');
}));

test('a rules file that cannot be loaded at start is an onError event with the file\'s code, not a throw', () => withDir((dir) => {
  const events: MoatErrorEvent[] = [];
  const fw = createFirewall({ logger: false, env: {}, rules: join(dir, 'none.db'), onError: (e) => events.push(e) });
  try {
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'startup');
    assert.equal(events[0]!.code, 'MOAT_ERR_FILE_MISSING');
  } finally {
    void fw.close();
  }
}));

test('moat-waf ends with the exit code the table gives each error\'s code', async () => withDir(async (dir) => {
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, Buffer.alloc(4096, 'x'));
  const badDoc = join(dir, 'bad.yaml');
  writeFileSync(badDoc, 'block:\n  ips: [1.2.3]\n');
  const cases: [string[], MoatErrorCode][] = [
    [['inspect', join(dir, 'none.db')], 'MOAT_ERR_FILE_MISSING'],
    [['inspect', garbage], 'MOAT_ERR_FILE_CORRUPT'],
    [['compile', join(dir, 'none.yaml'), '-o', join(dir, 'out.db')], 'MOAT_ERR_FILE_MISSING'],
    [['compile', badDoc, '-o', join(dir, 'out.db')], 'MOAT_ERR_RULE_INVALID'],
    [['frobnicate'], 'MOAT_ERR_USAGE'],
    [['check', '--rules', garbage, '--ip', '1.2.3'], 'MOAT_ERR_USAGE'],
  ];
  const exits = new Set<number>();
  for (const [args, code] of cases) {
    const err: string[] = [];
    const exit = await run(args, { out: () => {}, err: (s) => err.push(s), input: process.stdin });
    assert.equal(exit, MOAT_ERROR_CODES[code].exit, `${args.join(' ')} → ${code} (${err.join(' | ')})`);
    assert.ok(err.length > 0 && err.every((l) => l.startsWith('moat-waf: ') && !l.includes('internal error')), 'one clear line, not a bug report');
    exits.add(exit);
  }
  assert.deepEqual([...exits].sort(), [1, 2], 'both exit codes are exercised');
}));
