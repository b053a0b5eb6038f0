// Error codes are a contract: every code in errors/codes.ts is documented in docs/errors.md with the same
// exit code, every error constructed in packages/moat/src is a MoatError (so it carries a code), every
// code written in the source exists, and every sync reason written in the source has its code.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MOAT_ERROR_CODES, isMoatErrorCode, type MoatErrorCode } from '../src/errors/codes.js';
import { SYNC_REASON_CODES, syncReasonCode } from '../src/sync/sync-error.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(packageDir, 'src');
const docPath = join(packageDir, '../../docs/errors.md');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

const sources = sourceFiles(srcDir).map((path) => ({ file: relative(srcDir, path), text: readFileSync(path, 'utf8') }));

/** Where in which file a match is, for messages. */
function at(file: string, text: string, index: number): string {
  return `${file}:${text.slice(0, index).split('\n').length}`;
}

/** `| \`CODE\` | class | when | what to do | exit |` rows of docs/errors.md. */
function documentedCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const line of readFileSync(docPath, 'utf8').split('\n')) {
    const m = /^\| `(MOAT_ERR_[A-Z_]+)` \|.*\| (\d) \|$/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

test('every code in errors/codes.ts has its row in docs/errors.md, with the same exit code, and no row names another', () => {
  const documented = documentedCodes();
  const codes = Object.keys(MOAT_ERROR_CODES) as MoatErrorCode[];
  assert.ok(codes.length >= 20, 'the table is read');
  assert.deepEqual([...documented.keys()].filter((c) => !isMoatErrorCode(c)), [], 'rows for codes that do not exist');
  assert.deepEqual(codes.filter((c) => !documented.has(c)), [], 'codes without a row');
  assert.deepEqual(codes.filter((c) => documented.get(c) !== MOAT_ERROR_CODES[c].exit), [], 'rows whose exit code differs from codes.ts');
  for (const c of codes) assert.ok([1, 2].includes(MOAT_ERROR_CODES[c].exit), `${c}: an error never exits 0`);
});

test('every error constructed in packages/moat/src is a MoatError, so it carries a code', () => {
  // The classes that extend MoatError, directly or through another.
  const parents = new Map<string, string>();
  for (const { text } of sources) for (const m of text.matchAll(/class (\w+) extends (\w+)/g)) parents.set(m[1]!, m[2]!);
  const isMoatError = (name: string): boolean => {
    for (let n: string | undefined = name, hops = 0; n !== undefined && hops < 10; n = parents.get(n), hops++) if (n === 'MoatError') return true;
    return false;
  };
  assert.ok(isMoatError('MoatFileError') && isMoatError('OptionError') && isMoatError('SyncError') && isMoatError('RuleError'));
  const offenders: string[] = [];
  let seen = 0;
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/new (\w*Error)\(/g)) {
      seen++;
      // Wrapping a thrown value that is not an Error keeps it what it was (a hook of the app threw a string).
      if (m[1] === 'Error' && text.startsWith('new Error(String(', m.index)) continue;
      if (!isMoatError(m[1]!)) offenders.push(`${at(file, text, m.index)}: new ${m[1]}(`);
    }
  }
  assert.ok(seen > 150, `the scan finds the throw sites (${seen})`);
  assert.deepEqual(offenders, [], 'errors without a code: throw a MoatError subclass (OptionError for options)');
});

test('every code written in the source exists, and MoatError / MoatFileError are given one literally or by errorCodeOf', () => {
  const unknown: string[] = [];
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/'(MOAT_ERR_[A-Z_]*)'/g)) if (!isMoatErrorCode(m[1])) unknown.push(`${at(file, text, m.index)}: ${m[1]}`);
  }
  assert.deepEqual(unknown, []);
  const unclear: string[] = [];
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/new (MoatError|MoatFileError)\(\s*([^,]+),/g)) {
      const arg = m[2]!.trim();
      if (!/^'MOAT_ERR_[A-Z_]+'$/.test(arg) && !/^(errorCodeOf|isMoatErrorCode)\(|^code$/.test(arg)) unclear.push(`${at(file, text, m.index)}: ${arg}`);
    }
  }
  assert.deepEqual(unclear, []);
});

test('every sync reason written in the source has its code; http-<status> is MOAT_ERR_SYNC_HTTP', () => {
  const unmapped: string[] = [];
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/new SyncError\(\s*'([^']+)'/g)) {
      if (!Object.hasOwn(SYNC_REASON_CODES, m[1]!)) unmapped.push(`${at(file, text, m.index)}: '${m[1]}'`);
    }
  }
  assert.deepEqual(unmapped, [], 'add the reason to SYNC_REASON_CODES (sync/sync-error.ts)');
  for (const code of Object.values(SYNC_REASON_CODES)) assert.ok(isMoatErrorCode(code));
  assert.equal(syncReasonCode('http-503'), 'MOAT_ERR_SYNC_HTTP');
  assert.equal(syncReasonCode('bad-signature'), 'MOAT_ERR_SYNC_SIGNATURE');
  assert.equal(syncReasonCode('something-new'), 'MOAT_ERR_SYNC_FAILED', 'an unknown reason still has a code');
});
