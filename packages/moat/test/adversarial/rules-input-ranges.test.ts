// A rules file whose compiled IP ranges say more than its rules: the ranges are a cache of the hashed
// rules, so an edited blob (with its checksum recomputed, or the checksum row deleted) must not decide
// anything under the file's unchanged identity: decisions come from the ranges the rules compile to.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Engine, MoatFileError, loadRulesFile, writeRulesFile } from '../../src/index.js';
import { loadRangeTable } from '../../src/format/packed-ranges.js';
import { ipIndexHash } from '../../src/format/write-rules.js';
import { allow, block, withTmpDir } from '../helpers/engine-kit.js';

const u32 = (...words: number[]) => {
  const b = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => b.writeUInt32LE(w >>> 0, i * 4));
  return b;
};

/** Compiles `block 203.0.113.7`, widens its block range to every IPv4 address, then applies `finish`. */
function widened(dir: string, name: string, finish: (db: Database.Database) => void): string {
  const file = path.join(dir, name);
  writeRulesFile([block('ip', '203.0.113.7')], file);
  const db = new Database(file);
  db.prepare("UPDATE packed_ranges SET data = ? WHERE set_name = 'block' AND part = 'v4Starts'").run(u32(0));
  db.prepare("UPDATE packed_ranges SET data = ? WHERE set_name = 'block' AND part = 'v4Ends'").run(u32(0xffffffff));
  finish(db);
  db.close();
  return file;
}

/** The widened file decides only by its rule: 203.0.113.7 blocked, nothing else. */
function decidesByItsRules(file: string): void {
  const engine = new Engine({ rules: loadRulesFile(file) });
  assert.equal(engine.evaluate({ ip: '203.0.113.7' }).treatment, 'Blocked');
  for (const ip of ['8.8.8.8', '10.1.2.3', '203.0.113.8']) assert.equal(engine.evaluate({ ip }).treatment, 'Passed', ip);
}

describe('decisions come from the ranges the rules compile to', () => {
  test('a block range widened to 0.0.0.0-255.255.255.255 with the ranges_hash row deleted blocks only what the rules name', () =>
    withTmpDir((dir) => {
      decidesByItsRules(widened(dir, 'no-checksum.db', (db) => db.prepare("DELETE FROM meta WHERE key = 'ranges_hash'").run()));
    }));

  test('the same edit with ranges_hash recomputed over the edited ranges blocks only what the rules name', () =>
    withTmpDir((dir) => {
      const file = widened(dir, 'rehashed.db', (db) => {
        const sets = (name: string) => (db.prepare('SELECT members FROM label_sets WHERE set_name = ? ORDER BY id').all(name) as { members: string }[])
          .map((r) => JSON.parse(r.members) as number[]);
        const hash = ipIndexHash([{ table: loadRangeTable(db, 'allow'), sets: sets('allow') }, { table: loadRangeTable(db, 'block'), sets: sets('block') }]);
        db.prepare("UPDATE meta SET value = ? WHERE key = 'ranges_hash'").run(hash);
      });
      decidesByItsRules(file);
    }));

  test('a file without ranges_hash (as older Moat wrote) whose ranges match its rules still loads and decides', () =>
    withTmpDir((dir) => {
      const file = path.join(dir, 'old.db');
      // Nested, overlapping, IPv6 and mapped ranges on both sides: the rebuild must agree with the writer.
      writeRulesFile([
        block('ip', '203.0.113.7'), block('ip', '203.0.113.0/24'), block('ip', '2001:db8::/32'), block('ip', '::ffff:198.51.100.0/120'),
        allow('203.0.113.8'), allow('10.0.0.0/8'), allow('10.1.0.0/16', { mode: 'monitor' }),
      ], file);
      const db = new Database(file);
      db.prepare("DELETE FROM meta WHERE key = 'ranges_hash'").run();
      db.close();
      const engine = new Engine({ rules: loadRulesFile(file) });
      assert.equal(engine.evaluate({ ip: '203.0.113.9' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '198.51.100.3' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '203.0.113.8' }).treatment, 'Allowed');
      assert.equal(engine.evaluate({ ip: '8.8.8.8' }).treatment, 'Passed');
    }));
});
