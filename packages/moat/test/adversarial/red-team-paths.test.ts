/**
 * Red-team findings on path traversal and the request path, each read for real by Node (`path.join`,
 * `path.resolve`, `fs.readFileSync`) or by an Express 5 `:param` route: every payload must be blocked
 * with its category wherever it arrives, and each benign look-alike must pass.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { MoatRequest } from '../../src/engine/decision.js';
import { asParameter, assertDecided, blockingEngine } from '../helpers/attack-engine.js';
import { stringReads } from '../helpers/string-reads.js';

const engine = blockingEngine();
const base = { ip: '192.0.2.1', headers: {} };
const asValue = (value: string) => asParameter(value, 'file');
const blocked = (category: string, values: readonly string[]) => assertDecided(engine, `attack-${category}`, values, asValue);
const passed = (values: readonly string[]) => assertDecided(engine, 'passed', values, asValue);

function asTarget(target: string): MoatRequest {
  return { ...base, method: 'GET', path: target.split('?')[0]!, url: target };
}



function targetsBlocked(category: string, targets: readonly string[]): void {
  for (const t of targets) assert.equal(engine.evaluate(asTarget(t)).category, `attack-${category}`, t);
}

function targetsPassed(targets: readonly string[]): void {
  for (const t of targets) assert.equal(engine.evaluate(asTarget(t)).category, 'passed', t);
}

// T10–T12: Express decodes `%2F` in a `:file` segment; path.join/resolve(base, file) leaves `base`.
test('an encoded path segment climbing out of its folder or naming a system file is blocked in the path', () => {
  targetsBlocked('traversal', [
    '/api/files/..%2F..%2Fsecret.txt',
    '/api/files/..%2Fsecret.txt',
    '/api/v1/files/..%2F..%2F..%2Fetc%2Fshadow',
    '/api/v1/files/download/%2Fetc%2Fpasswd',
    '/files/%2Fproc%2Fself%2Fenviron',
    '/api/files/..%5C..%5Cweb.config',
    '/api/files/..%2F..%2Fsecret.txt?download=1',
  ]);
  blocked('traversal', ['../../secret.txt', '../../../etc/shadow', '/etc/passwd', '/proc/self/environ']);
});

// S11: `WHERE id = ${req.params.id}` with the decoded `:id` segment returns every password.
test('a numeric SQL injection in an encoded path segment is blocked in the path', () => {
  targetsBlocked('sqli', [
    '/users/1%20UNION%20SELECT%20name,password%20FROM%20users',
    '/users/1;DROP%20TABLE%20users',
    '/api/users/1%20OR%201=1/profile',
    // No escape needed: `;` and `(` continue the number where spaces cannot be sent raw.
    '/users/1;SELECT(SLEEP(5))',
    '/api/users/1;SELECT(SLEEP(5))/profile',
    '/items/(SELECT(group_concat(password))FROM(users))',
  ]);
  targetsPassed(['/wiki/Foo_(bar)', '/users/1;jsessionid=AB12', '/files/2024(final).xlsx', '/a;b/(c)/1(2)', '/search;q=select']);
  blocked('sqli', ['1 UNION SELECT name,password FROM users']);
});

// No count of harmless encoded segments carries the payload past the segment reading.
test('a payload segment after many encoded segments is still judged, and their reading stays linear', () => {
  targetsBlocked('traversal', ['/a%20b'.repeat(200) + '/files/..%2F..%2Fsecret.txt']);
  targetsBlocked('sqli', ['/x%20y'.repeat(200) + '/users/1%20UNION%20SELECT%20password%20FROM%20users']);
  for (const unit of ['/a%20', '/%2F', '/..%2F', '/%2e%2e', '/1%20or', '/%']) {
    const target = unit.repeat(Math.ceil(8192 / unit.length));
    const reads = stringReads(() => engine.evaluate(asTarget(target))) / target.length;
    assert.ok(reads <= 256, `${unit}: ${reads.toFixed(0)} reads per character`);
  }
});

test('ordinary encoded path segments pass', () => {
  targetsPassed([
    '/files/my%20report.pdf',
    '/search/caf%C3%A9',
    '/wiki/C%2B%2B',
    '/wiki/AC%2FDC',
    '/repo/blob/main/src%2Findex.ts',
    '/docs/a%2Fb%2F..%2Fc',
    "/people/O'Brien%20Smith",
    '/search/Tom%20%26%20Jerry',
    '/wiki/Select%20a%20plan',
    '/tags/50%25%20off',
    '/files/2024%20Q1%20(final).xlsx',
  ]);
});

// T1/T2: on POSIX `\` and `;` are ordinary characters, so `x\x\x/../..` climbs from one name; path.join read /etc/shadow.
test('a climb whose names only Windows splits (backslash, semicolon) is blocked', () => {
  blocked('traversal', [
    'x\\x\\x\\x\\x\\x\\x\\x\\x\\x/../../../../../../../../../../etc/shadow',
    'a;a;a;a;a;a;a;a/../../../../../../../../etc/shadow',
  ]);
});

// T3/T4: fs.readFileSync of an absolute path with `..` reads the file it resolves to.
test('an absolute path resolving to a system file through `..` is blocked', () => {
  blocked('traversal', [
    '/etc/ssl/../passwd',
    '/usr/local/lib/../../../etc/passwd',
    '/etc/ssl/certs/../../../etc/shadow',
    '/var/www/html/../../../proc/self/environ',
  ]);
});

// T5–T9: system files and secrets the sensitive-file list lacked, read by fs.readFileSync.
test('process, secret and shadow files missing before are blocked', () => {
  blocked('traversal', [
    '/proc/thread-self/environ',
    '/proc/thread-self/cwd/.env',
    '/proc/4242/environ',
    '/proc/31337/cmdline',
    '/run/secrets/db_password',
    '/etc/shadow-',
    '/etc/gshadow',
    '/srv/app/.env',
    '/var/www/html/.env',
    '/home/node/app/.env',
  ]);
});

test('paths and prose that look like those attacks pass', () => {
  passed([
    'docs/../readme.txt',
    '../img/a.png',
    'see the .env file for settings',
    'config/.env.example',
    'copy .env.example to .env',
    'C:\\Users\\me\\Documents\\report.docx',
    'C:\\Users\\me\\..\\shared\\notes.txt',
    'a;b/c',
    'src\\lib/../index.ts',
    '/usr/local/lib/../share/doc',
    '/etc/ssl/../ssl/certs',
    '/proc/123',
    '/team/sam',
    '/srv/app/.env.example',
    'The process id is in /proc, e.g. pid 42',
    'run/secrets are mounted by Docker',
  ]);
});
