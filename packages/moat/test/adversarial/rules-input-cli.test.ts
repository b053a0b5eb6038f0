// The `moat-waf` command as a real process on real files: an output that names an input is refused before
// anything is written, a reader that closes the pipe early ends the command quietly, an expiry compiles to
// the same file in every time zone, and a document the YAML library refuses is a usage error (exit 2).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, runProcess, transpileClient } from '../helpers/cli-build.js';
import { withTmpDir } from '../helpers/engine-kit.js';

const client = transpileClient();
after(() => fs.rmSync(client.dir, { recursive: true, force: true }));

interface Run { code: number | null; stdout: string; stderr: string }

function moat(args: string[], opts: { env?: Record<string, string> } = {}): Promise<Run> {
  return runProcess(process.execPath, [client.main, ...args], { env: { ...process.env, MOAT_DEBUG: '', ...opts.env } });
}

describe('an output that is an input', () => {
  test('compile rules.yaml -o rules.yaml (also through a symbolic link) is refused with exit 2; the document is kept', () =>
    withTmpDir(async (dir) => {
      const doc = path.join(dir, 'rules.yaml');
      const text = 'block:\n  paths: ["/wp-admin"]\n';
      fs.writeFileSync(doc, text);
      fs.symlinkSync(doc, path.join(dir, 'link.yaml'));
      for (const out of [doc, path.join(dir, 'link.yaml'), path.join(dir, '.', 'rules.yaml')]) {
        const r = await moat(['compile', doc, '-o', out]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^moat-waf: -o .* is the rules document .*choose another output file\n$/);
        assert.equal(fs.readFileSync(doc, 'utf8'), text);
      }
    }));

  test('wafris export --rules rules.db -o rules.db is refused; the rules file still loads', () =>
    withTmpDir(async (dir) => {
      const doc = path.join(dir, 'rules.yaml');
      const db = path.join(dir, 'rules.db');
      fs.writeFileSync(doc, 'block:\n  paths: ["/wp-admin"]\n');
      assert.equal((await moat(['compile', doc, '-o', db])).code, 0);
      const r = await moat(['wafris', 'export', '--rules', db, '-o', db]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /-o .* is --rules /);
      assert.match((await moat(['inspect', db])).stdout, /format\s+moat/);
    }));

  test('data build --list x=list.txt -o list.txt, and -o equal to --wafris, are refused', () =>
    withTmpDir(async (dir) => {
      const list = path.join(dir, 'list.txt');
      fs.writeFileSync(list, '1.2.3.4\n');
      const r = await moat(['data', 'build', '--list', `bad=${list}`, '-o', list]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /-o .* is --list /);
      assert.equal(fs.readFileSync(list, 'utf8'), '1.2.3.4\n');
      const out = path.join(dir, 'data.db');
      fs.writeFileSync(out, '');
      const both = await moat(['data', 'build', '--list', `bad=${list}`, '-o', out, '--wafris', out]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, /--wafris .* is -o /);
    }));
});

test('a reader that closes the pipe early: the command ends quietly, without an EPIPE crash', () =>
  withTmpDir(async (dir) => {
    const doc = path.join(dir, 'rules.yaml');
    const db = path.join(dir, 'rules.db');
    fs.writeFileSync(doc, 'block:\n  paths: ["/wp-admin"]\n');
    assert.equal((await moat(['compile', doc, '-o', db])).code, 0);
    // check --ndjson answers each line as it comes: after the first answer the reader leaves, as `| head -1`
    // does, and only then are more lines sent, so the command's next write certainly meets a closed pipe.
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [client.main, 'check', '--rules', db, '--ndjson'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      const line = `${JSON.stringify({ ip: '192.0.2.1', path: '/wp-admin' })}\n`;
      child.stdout.once('data', () => {
        child.stdout.destroy();
        child.stdin.end(line.repeat(2_000));
      });
      child.stderr.on('data', (b) => (stderr += b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: '', stderr }));
      child.stdin.write(line);
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  }));

test('an expiry compiles to the same file hash in every time zone; one without a zone is refused (exit 2)', () =>
  withTmpDir(async (dir) => {
    const doc = path.join(dir, 'rules.yaml');
    fs.writeFileSync(doc, 'block:\n  ips:\n    - { value: 203.0.113.7, expires: "2026-12-31" }\n    - { value: 203.0.113.8, expires: "2026-12-31T10:00:00+09:00" }\n');
    const hashes = new Set<string>();
    for (const tz of ['UTC', 'America/Los_Angeles', 'Asia/Tokyo']) {
      const r = await moat(['compile', doc, '-o', path.join(dir, `${tz.replace('/', '-')}.db`)], { env: { TZ: tz } });
      assert.equal(r.code, 0, r.stderr);
      hashes.add(/hash ([0-9a-f]+)/.exec(r.stdout)![1]!);
    }
    assert.equal(hashes.size, 1);
    fs.writeFileSync(doc, 'block:\n  ips:\n    - { value: 203.0.113.7, expires: "2026-12-31T00:00:00" }\n');
    const local = await moat(['compile', doc, '-o', path.join(dir, 'local.db')], { env: { TZ: 'Asia/Tokyo' } });
    assert.equal(local.code, 2);
    assert.match(local.stderr, /^moat-waf: rules\.yaml:3: block\.ips\[0\]: invalid expiry .*Z or an offset/);
    assert.equal(fs.existsSync(path.join(dir, 'local.db')), false);
  }));

test('a document with too many aliases is a rules error (exit 2), not an internal error', () =>
  withTmpDir(async (dir) => {
    let text = 'x0: &a0 ["/a"]\n';
    for (let i = 1; i < 12; i++) text += `x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]\n`;
    const doc = path.join(dir, 'laughs.yaml');
    fs.writeFileSync(doc, text);
    const r = await moat(['compile', doc, '-o', path.join(dir, 'out.db')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^moat-waf: laughs\.yaml: the document cannot be read/);
    assert.doesNotMatch(r.stderr, /internal error/);
  }));
