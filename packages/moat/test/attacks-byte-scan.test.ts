/**
 * The SIMD byte scan (attacks/byte-scan) and the form-field reading built on it. The scan must mark every
 * byte of its set and the first byte of every `..` and `pr` at any alignment, and nothing else but a
 * pair's neighbours; a long form field read from the marks must get exactly the answer of the field read
 * by native searches (raw-form-field.ts), whose answers the raw-form-field properties tie to decoding then
 * detecting; and when WebAssembly cannot run the module, the scan is absent and the searches answer.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { byteScanModule } from '../src/attacks/byte-scan/byte-scan-module.js';
import { MAX_SCANNED, byteSetTables, createByteScanner, type ByteScanner } from '../src/attacks/byte-scan/byte-scanner.js';
import { RAW_FIELD_FROM, bodyScanTables, rawFieldIsClean, rawFieldIsCleanMarked } from '../src/attacks/raw-form-field.js';
import { RequestAttackScan, compileAttackPolicy } from '../src/attacks/request-attacks.js';
import { ALL_ATTACK_CATEGORIES, attackCategorySet } from '../src/attacks/index.js';
import { normalizeAttackSettings } from '../src/rules/attack-settings.js';

const scanner = createByteScanner();

function scannerOrFail(): ByteScanner {
  assert.ok(scanner !== null, 'WebAssembly SIMD runs on every Node this project supports');
  return scanner;
}

/** The marked offsets of the last scan, from its records. */
function markedOffsets(s: ByteScanner, records: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < records; k++) {
    const step = s.marks[2 * k]!;
    for (let j = 0; j < 32; j++) if (s.marks[2 * k + 1]! & (1 << j)) out.push(step + j);
  }
  return out;
}

const isPairAt = (text: string, i: number) => text.startsWith('..', i) || text.startsWith('pr', i);

const SET = [...'%\'"<;|$`{\\/:=\n\r@'].map((c) => c.charCodeAt(0));
const asciiText = fc.array(fc.oneof(fc.constantFrom('a', 'p', 'r', 'o', '.', '..', 'pr', 'pro', 'proto', ' ', '+', '%27', '\n', '~', '\x7f', '\t'), fc.constantFrom(...SET.map((c) => String.fromCharCode(c)))), { maxLength: 120 }).map((a) => a.join(''));

test('the scan marks every byte of its set and the first byte of every .. and pr, at every alignment, and nothing but their neighbours besides', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), asciiText, (lead, body) => {
      const text = 'x'.repeat(lead) + body;
      const records = s.scan(text, tables);
      assert.ok(records >= 0);
      const marked = new Set(markedOffsets(s, records));
      for (let i = 0; i < text.length; i++) {
        const must = SET.includes(text.charCodeAt(i)) || isPairAt(text, i);
        const may = must || isPairAt(text, i - 1) || isPairAt(text, i + 1);
        if (must) assert.ok(marked.has(i), `${JSON.stringify(text)}: ${i} not marked`);
        else if (!may) assert.ok(!marked.has(i), `${JSON.stringify(text)}: ${i} marked`);
      }
      for (const i of marked) assert.ok(i < text.length, 'nothing marked past the end');
    }),
    { numRuns: 2000 },
  );
});

test('the scan reads texts longer than its first memory (it grows) and refuses texts beyond its bound', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  const text = 'a'.repeat(700 * 1024) + '<' + 'b'.repeat(100) + '..';
  const marked = markedOffsets(s, s.scan(text, tables));
  assert.deepEqual(marked.filter((i) => text[i] === '<' || text[i] === '.').slice(0, 2), [700 * 1024, 700 * 1024 + 101]);
  assert.equal(s.scan('a'.repeat(MAX_SCANNED + 1), tables), -1);
  // A short text after a long one: the bytes left behind by the long one are not read as this one's.
  assert.deepEqual(markedOffsets(s, s.scan('abc', tables)), []);
});

test('without a module WebAssembly accepts, there is no scanner (the caller searches natively)', () => {
  assert.equal(createByteScanner(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9])), null);
  // A valid module without the scan function or memory.
  assert.equal(createByteScanner(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), null);
  assert.ok(byteScanModule(1).length > 100);
});

/** Pieces that decide a field, with letters around them so they land at every offset of a 32-byte step. */
const PIECES = [
  '%27', "'", '%22', '"', '..', '.', '.%2E', '%2E', 'pr', 'proto', 'pr%6Fto', 'p', '__proto__', '%3C', '<', '%3B', ';', '%7C', '%24', '$', '%7B', '{', '%5C', '%2F', '/', '%3A', ':',
  '%3D', '%0A', '%0D', '%40', '@', '%60', '`', '%2C', '%3F', '%21', '%25', '%2B', '%26', '%zz', '%', '%2', '%C3%A9', '%41', '+', '+OR+', "'t+", "%27ll+", "'s", 'x', 'ab', 'abc', 'UNION+SELECT', '1',
];
const piece = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((a) => a.join(''));
/** Plain encoded prose, long enough to be judged raw. */
const PROSE = new URLSearchParams({ v: "I don't think the garden, my friend, is quiet? We walk to market in the evening. ".repeat(20) }).toString().slice(2);
const field = fc.tuple(piece, fc.integer({ min: 0, max: 200 }), piece, fc.integer({ min: 0, max: 31 }), piece).map(([a, cut, b, pad, c]) => 'y'.repeat(pad) + a + PROSE.slice(cut, cut + RAW_FIELD_FROM + 40) + b + PROSE.slice(0, 64) + c);

const SETS = [
  ALL_ATTACK_CATEGORIES,
  attackCategorySet(['sqli']),
  attackCategorySet(['traversal']),
  attackCategorySet(['prototype']),
  attackCategorySet(['sqli', 'nosql', 'ssrf', 'prototype']),
  attackCategorySet(['xss', 'shell', 'template']),
];

test('a long field read from the byte scan of its body gets the answer of the field searched natively, for every category set and any fields around it', () => {
  const s = scannerOrFail();
  let clean = 0;
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 4 }), piece, fc.constantFrom(...SETS), fc.constantFrom(...SETS), (fields, short, scanned, extra) => {
      // The body is scanned for `scanned`; a field may be read for those categories or fewer (exclusions, monitor matches).
      const body = [`a=${short}`, ...fields.map((f, i) => `f${i}=${f}`)].join('&');
      const records = s.scan(body, bodyScanTables(scanned));
      assert.ok(records >= 0);
      let from = body.indexOf('&') + 1;
      for (const f of fields) {
        const valueFrom = body.indexOf('=', from) + 1;
        const valueTo = valueFrom + f.length;
        for (const enabled of [scanned, scanned & extra]) {
          if (enabled === 0) continue;
          const searched = rawFieldIsClean(f, enabled);
          assert.equal(rawFieldIsCleanMarked(body, valueFrom, valueTo, enabled, s.marks, 0, records), searched, `${enabled}/${scanned}: ${JSON.stringify(f.slice(0, 120))}`);
          if (searched) clean++;
        }
        from = valueTo + 1;
      }
    }),
    { numRuns: 1500 },
  );
  // Worth something only if many fields are judged clean both ways.
  assert.ok(clean > 100, `clean ${clean} times`);
});

test('a request scan with the byte scan and one without it (no WebAssembly) reach the same outcome on long forms', () => {
  const s = scannerOrFail();
  const blockAll = normalizeAttackSettings('block')!;
  const policy = compileAttackPolicy(blockAll)!;
  // SQL in monitor mode: after a SQL match the field is read again for the rest, with fewer categories than scanned.
  const monitorSql = compileAttackPolicy({ ...blockAll, modes: { ...blockAll.modes, sqli: 'monitor' } })!;
  const scanned = new RequestAttackScan(s);
  const searched = new RequestAttackScan(null);
  let blocked = 0;
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 3 }), fc.constantFrom(policy, monitorSql), (fields, p) => {
      const req = { path: '/comment', url: '/comment', body: { kind: 'form' as const, text: fields.map((f, i) => `f${i}=${f}`).join('&') } };
      const a = scanned.run(p, req);
      const outcome = { block: a.block, monitor: a.monitor, cut: a.cut };
      const b = searched.run(p, req);
      assert.deepEqual(outcome, { block: b.block, monitor: b.monitor, cut: b.cut });
      if (outcome.block !== null) blocked++;
    }),
    { numRuns: 300 },
  );
  assert.ok(blocked > 30, `blocked ${blocked} times`);
});
