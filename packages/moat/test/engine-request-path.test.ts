// The request path does no I/O: opening prepares everything; evaluating prepares no statement, opens no
// file or descriptor and reads no rule table. Checked by counting better-sqlite3 prepares and this
// process's open file descriptors, and by deleting the files after opening. Also: the native SQLite
// binding must load, loudly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Engine, writeRulesFile } from '../src/index.js';
import type { MoatRequest } from '../src/index.js';
import { allow, block, dataFileFor, rateLimit, withTmpDir } from './helpers/engine-kit.js';

test('better-sqlite3 native binding loads and runs SQL (a failed build must fail here, not skip)', () => {
  let db: Database.Database;
  try {
    db = new Database(':memory:');
  } catch (e) {
    assert.fail(`better-sqlite3's native binding does not load (run: npm rebuild better-sqlite3): ${(e as Error).message}`);
  }
  assert.equal(db.prepare('SELECT sqlite_version() AS v').get() !== undefined, true);
  assert.deepEqual(db.prepare('SELECT 40 + 2 AS n').get(), { n: 42 });
  db.close();
});

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

const REQUESTS: MoatRequest[] = [
  { ip: '10.0.0.1' }, { ip: '203.0.113.7', path: '/wp-admin' }, { ip: '198.51.100.9', userAgent: 'sqlmap' },
  { ip: '175.45.176.1' }, { ip: '185.220.100.4' }, { ip: '2001:db8::1', params: 'q=<script>' }, { ip: '8.8.8.8', host: 'admin.example.com' },
  { ip: '8.8.8.8', method: 'TRACE' }, { ip: '8.8.4.4', path: '/login', method: 'POST' }, { ip: 'garbage' }, { ip: '9.9.9.9', path: '/' },
];

describe('the request path', () => {
  for (const dataMode of ['memory', 'light'] as const) {
    test(`prepares nothing, opens nothing and survives its files being deleted (data ${dataMode})`, () =>
      withTmpDir((dir) => {
        const rulesFile = path.join(dir, 'rules.db');
        writeRulesFile([
          allow('203.0.113.7'), block('ip', '10.0.0.0/8'), block('country', 'KP'), block('list', 'tor'), block('userAgent', 'sqlmap'),
          block('path', '/wp-admin'), block('param', '<script'), block('host', 'admin.example.com'), block('method', 'TRACE'),
          rateLimit('/login', 3, '60s', { method: 'POST' }),
        ], rulesFile);
        const dataFile = dataFileFor(path.join(dir, 'data.db'), { countries: [['175.45.176.0/22', 'KP']], lists: { tor: ['185.220.100.0/24'] } });
        let now = 1_000_000;
        const engine = Engine.open({ rules: rulesFile, data: dataFile, dataMode, now: () => now });
        const expected = REQUESTS.map((r) => engine.evaluate(r).category);
        assert.deepEqual(expected, ['bc', 'ai', 'bu', 'bctry', 'brep', 'bparam', 'bh', 'bm', 'passed', 'passed', 'passed']);

        const proto = Database.prototype as unknown as { prepare: (...a: unknown[]) => unknown; exec: (...a: unknown[]) => unknown; pragma: (...a: unknown[]) => unknown };
        const original = { prepare: proto.prepare, exec: proto.exec, pragma: proto.pragma };
        let calls = 0;
        for (const name of ['prepare', 'exec', 'pragma'] as const) {
          proto[name] = function (this: unknown, ...args: unknown[]) {
            calls++;
            return original[name].apply(this, args);
          };
        }
        try {
          // Deleting the files: the engine must not need to open them again (the light data mode keeps its
          // already open descriptor, which outlives the name on POSIX).
          fs.rmSync(rulesFile);
          fs.rmSync(dataFile);
          const fdsBefore = openFds();
          for (let round = 0; round < 200; round++) {
            now += 1_000_000; // new rate-limit windows, so every round decides as the first
            const got = REQUESTS.map((r) => engine.evaluate(r).category);
            assert.deepEqual(got, expected, `round ${round}`);
          }
          assert.equal(openFds(), fdsBefore, 'no descriptor opened or leaked while evaluating');
          assert.equal(calls, 0, 'no statement prepared and no SQL run on the request path');
        } finally {
          Object.assign(proto, original);
        }
        // The counter is real: opening an engine does prepare statements.
        writeRulesFile([block('ip', '10.0.0.0/8')], rulesFile);
        let opens = 0;
        proto.prepare = function (this: unknown, ...args: unknown[]) {
          opens++;
          return original.prepare.apply(this, args);
        };
        try {
          Engine.open({ rules: rulesFile }).close();
        } finally {
          proto.prepare = original.prepare;
        }
        assert.ok(opens > 0);
        engine.close();
      }));
  }

  test('matchers are built once per file version: one automaton pass per value, whatever the number of rules', () =>
    withTmpDir((dir) => {
      const e = (n: number) => {
        const rules = Array.from({ length: n }, (_, i) => block('path', `/blocked-${i}/`));
        const f = path.join(dir, `r${n}.db`);
        writeRulesFile(rules, f);
        return Engine.open({ rules: f });
      };
      const small = e(10);
      const big = e(5000);
      const matcher = big.rules.paths;
      const probe = { ip: '1.1.1.1', path: '/static/app.js' };
      // Count String.prototype.includes calls: a per-request loop over rules would make thousands.
      const includes = String.prototype.includes;
      let n = 0;
      String.prototype.includes = function (this: string, ...a: Parameters<typeof includes>) {
        n++;
        return includes.apply(this, a);
      };
      try {
        for (let i = 0; i < 100; i++) {
          small.evaluate(probe);
          big.evaluate(probe);
        }
      } finally {
        String.prototype.includes = includes;
      }
      assert.ok(n < 50, `String.includes called ${n} times for 200 evaluations`);
      assert.equal(big.rules.paths, matcher, 'the matcher object is the one built at open');
      assert.equal(big.evaluate({ ip: '1.1.1.1', path: '/x/blocked-4999/y' }).category, 'bp');
    }));
});
