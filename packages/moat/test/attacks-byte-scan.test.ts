/**
 * The SIMD byte scan (attacks/byte-scan) and the form-field reading built on it. The scan must mark every
 * byte of its set and the second byte of every `..` and `pr` at any alignment, and nothing else but the
 * look-alikes byteSetTables names; a long form field read from the marks must get exactly the answer of the field read
 * by native searches (raw-form-field.ts), whose answers the raw-form-field properties tie to decoding then
 * detecting; and when WebAssembly cannot run the module, the scan is absent and the searches answer.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { byteScanModule } from '../src/attacks/byte-scan/byte-scan-module.js';
import { MAX_SCANNED, NOT_ASCII, byteSetTables, createByteScanner, type ByteScanner } from '../src/attacks/byte-scan/byte-scanner.js';
import { RAW_FIELD_FROM, bodyScanSieve, bodyScanTables, rawFieldIsClean, rawFieldIsCleanMarked } from '../src/attacks/raw-form-field.js';
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

/** What byteSetTables lets the scan mark besides: pairs of these (first, second), a set byte's partner (0x4n/0x6n, 0x5n/0x7n), a pair's first byte after a set byte 0x5n or 0x7n. */
const FIRST_LIKE = ' .~p';
const SECOND_LIKE = '".~r';
const inSetOrPartner = (c: number) => SET.includes(c) || (c >= 0x40 && c < 0x80 && SET.includes(c ^ 0x20));

test('the scan marks every byte of its set and the second byte of every .. and pr, at every alignment, and nothing but their look-alikes besides', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), asciiText, (lead, body) => {
      const text = 'x'.repeat(lead) + body;
      const records = s.scan(text, tables);
      assert.ok(records >= 0);
      const marked = new Set(markedOffsets(s, records));
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const before = i > 0 ? text.charCodeAt(i - 1) : 0;
        const must = SET.includes(c) || (i > 0 && isPairAt(text, i - 1));
        const may =
          must || inSetOrPartner(c) || (i > 0 && SECOND_LIKE.includes(text[i]!) && FIRST_LIKE.includes(text[i - 1]!)) || (FIRST_LIKE.includes(text[i]!) && (before >> 4) >= 5 && inSetOrPartner(before));
        if (must) assert.ok(marked.has(i), `${JSON.stringify(text)}: ${i} not marked`);
        else if (!may) assert.ok(!marked.has(i), `${JSON.stringify(text)}: ${i} marked`);
      }
      for (const i of marked) assert.ok(i < text.length, 'nothing marked past the end');
    }),
    { numRuns: 2000 },
  );
});

test('a pair across a 16-byte block or a 32-byte step is marked at its second byte (the lookup of the byte before comes from the block before)', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  for (let k = 0; k < 64; k++) {
    const text = 'x'.repeat(k) + '..' + 'y'.repeat(40) + 'pr' + 'z'.repeat(k);
    assert.deepEqual(markedOffsets(s, s.scan(text, tables)), [k + 1, k + 43], `pairs at ${k}`);
  }
  // Neither byte of a pair alone, nor a pair reversed, is marked; a look-alike (space then `r`) is.
  assert.deepEqual(markedOffsets(s, s.scan('a.b.c+p+r+rp+.x+x.+' + 'q'.repeat(30) + 'rp', tables)), []);
  assert.deepEqual(markedOffsets(s, s.scan('a r', tables)), [2]);
});

test('the scan refuses any text with a character above 0x7f, wherever it is, even one whose low byte is a set byte or whose UTF-8 fits a truncated write', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  // U+013C and U+0127 end in the bytes of `<` and `'`: a byte-per-character copy would read them as those.
  const others = ['\u00e9', '\u0080', '\u00ff', '\u013c', '\u0127', '\u2028', '\ud83d', '\udc00', '\ud83d\ude00', '\uffff'];
  fc.assert(
    fc.property(asciiText, fc.constantFrom(...others), fc.nat(), (body, other, at) => {
      const i = body.length === 0 ? 0 : at % (body.length + 1);
      assert.equal(s.scan(body.slice(0, i) + other + body.slice(i), tables), NOT_ASCII);
      // The same ASCII text alone is scanned (the refusal leaves nothing behind).
      assert.ok(s.scan(body, tables) >= 0);
    }),
    { numRuns: 1000 },
  );
  const long = 'a'.repeat(64 * 1024);
  assert.equal(s.scan(long + '\u00e9', tables), NOT_ASCII);
  assert.equal(s.scan('\u00e9' + long, tables), NOT_ASCII);
  assert.deepEqual(markedOffsets(s, s.scan(long, tables)), []);
});

test('the scan reads texts longer than its first memory (it grows) and refuses texts beyond its bound', () => {
  const s = scannerOrFail();
  const tables = byteSetTables(SET);
  const text = 'a'.repeat(700 * 1024) + '<' + 'b'.repeat(100) + '..';
  const marked = markedOffsets(s, s.scan(text, tables));
  // The `<`, then the `..`'s second dot (the last byte: a pair is marked at its end).
  assert.deepEqual(marked.filter((i) => text[i] === '<' || text[i] === '.').slice(0, 2), [700 * 1024, 700 * 1024 + 102]);
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
  // What the sift drops or reads across a field: harmless escapes (either case), repeated quotes, a value's own `=`,
  // double encoding, overlong UTF-8 dots, lower-case escapes of refused characters.
  '%2c', '%28', '%29', '%5F', '%2D', '%20', '%09', '%7E', '%27%27', "''", '%22%22', '""', '=', "'=", '%252e', '%c0%ae', '%2e%2e', '%3c', '%3b', '%0a',
];
const piece = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((a) => a.join(''));
/** Plain encoded prose, long enough to be judged raw. */
const PROSE = new URLSearchParams({ v: "I don't think the garden, my friend, is quiet? We walk to market in the evening. ".repeat(20) }).toString().slice(2);
const field = fc.tuple(piece, fc.integer({ min: 0, max: 200 }), piece, fc.integer({ min: 0, max: 31 }), piece).map(([a, cut, b, pad, c]) => 'y'.repeat(pad) + a + PROSE.slice(cut, cut + RAW_FIELD_FROM + 40) + b + PROSE.slice(0, 64) + c);
/** What may precede a field's `=`: the sift must forget quotes seen in a name when the value starts. */
const fieldName = fc.constantFrom('', "'", '"', '%27', "x'y", '%22');

const SETS = [
  ALL_ATTACK_CATEGORIES,
  attackCategorySet(['sqli']),
  attackCategorySet(['traversal']),
  attackCategorySet(['prototype']),
  attackCategorySet(['sqli', 'nosql', 'ssrf', 'prototype']),
  attackCategorySet(['xss', 'shell', 'template']),
];

test('a long field read from the byte scan of its body, sifted or not, gets the answer of the field searched natively, for every category set and any fields around it', () => {
  const s = scannerOrFail();
  let clean = 0;
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 4 }), fc.array(fieldName, { minLength: 1, maxLength: 4 }), piece, fc.constantFrom(...SETS), fc.constantFrom(...SETS), fc.boolean(), (fields, names, short, scanned, extra, sifted) => {
      // The body is scanned for `scanned`; a field may be read for those categories or fewer (exclusions, monitor matches).
      const body = [`a=${short}`, ...fields.map((f, i) => `f${i}${names[i % names.length]}=${f}`)].join('&');
      const records = sifted ? s.scanForm(body, bodyScanTables(scanned), bodyScanSieve(scanned)) : s.scan(body, bodyScanTables(scanned));
      assert.ok(records >= 0);
      let from = body.indexOf('&') + 1;
      for (const f of fields) {
        const valueFrom = body.indexOf('=', from) + 1;
        const valueTo = valueFrom + f.length;
        for (const enabled of [scanned, scanned & extra]) {
          if (enabled === 0) continue;
          const searched = rawFieldIsClean(f, enabled);
          assert.equal(rawFieldIsCleanMarked(body, valueFrom, valueTo, enabled, s, 0, records), searched, `${enabled}/${scanned}: ${JSON.stringify(f.slice(0, 120))}`);
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

test('the sift keeps the first quote of each kind per field value, every escape the reading refuses and every `&`, and drops harmless escapes, later quotes and each first `=`', () => {
  const s = scannerOrFail();
  const parts = ["n'a=x%2Cy%27z%27w'%3F", "b=%3C'q%22'%22r=%2e", 'c=%zz%20%C3%A9%41', "d%27=%27%21'"];
  const body = parts.join('&');
  const records = s.scanForm(body, bodyScanTables(ALL_ATTACK_CATEGORIES), bodyScanSieve(ALL_ATTACK_CATEGORIES));
  const kept = markedOffsets(s, records).map((i) => body.slice(i, body[i] === '%' ? i + 3 : i + 1));
  // Part a: its name's quote, then the value's first `%27` (not the second, nor `'` after it); `%2C`, `%3F` go.
  // Part b: `%3C` (refused), the first `'` and first `%22`, the value's own `=`, `%2e` (refused: a dot may pair).
  // Part c: the invalid `%zz`, a byte above 0x7f (`%C3`, `%A9`) and an escaped letter; `%20` goes.
  // Part d: the name's `%27`, then the value's first `%27`; `%21` and the later `'` go. Every `&` stays.
  assert.deepEqual(kept, ["'", '%27', '&', '%3C', "'", '%22', '=', '%2e', '&', '%zz', '%C3', '%A9', '%41', '&', '%27', '%27']);
  // The same text scanned without the sift keeps every mark.
  const all = markedOffsets(s, s.scan(body, bodyScanTables(ALL_ATTACK_CATEGORIES)));
  assert.ok(all.length > kept.length + 10, `${all.length} marks unsifted`);
});

/** Prose as a browser encodes it, with what the sift drops all through it: `%2C`, `%3F`, `%21`, `%28`, `%29` and contractions' `%27`. */
const ESCAPED_PROSE = new URLSearchParams({ v: "I don't think the garden, my friend, is quiet? We'll walk (slowly) to market in the evening! ".repeat(50) }).toString().slice(2).slice(0, 4000);

test('attacks behind escapes, in a field full of escapes the sift drops, are blocked at every offset of a 32-byte step, as without the scan', () => {
  const s = scannerOrFail();
  const policy = compileAttackPolicy(normalizeAttackSettings('block')!)!;
  const scanned = new RequestAttackScan(s);
  const searched = new RequestAttackScan(null);
  const attacks = [
    ['x%22+OR+%221%22%3D%221', 'sqli'], ['x%22+or+%221%22%3d%221', 'sqli'], ['%3Csvg+onload%3Dalert(1)%3E', 'xss'], ['%3cscript%3ealert(1)%3c%2fscript%3e', 'xss'],
    ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'traversal'], ['%252e%252e%252fetc%252fpasswd', 'traversal'], ['..%2f..%2fetc%2fpasswd', 'traversal'], ['%2E%2E%5C%2E%2E%5Cwindows', 'traversal'],
    ['__proto__%5BisAdmin%5D', 'prototype'], ['%24%7Bjndi%3Aldap%3A%2F%2Fx%7D', 'template'], ['%7B%7B7*7%7D%7D', 'template'], ['%3B+cat+%2Fetc%2Fpasswd', 'shell'],
    ['http%3A%2F%2F169.254.169.254%2Flatest', 'ssrf'],
  ] as const;
  const form = (payload: string, offset: number) => ({
    path: '/comment', url: '/comment',
    body: { kind: 'form' as const, text: Array.from({ length: 16 }, (_, i) => `field${i}=${i === 7 ? `${ESCAPED_PROSE}+${'y'.repeat(offset)}+${payload}+${ESCAPED_PROSE.slice(0, 60)}` : ESCAPED_PROSE}`).join('&') },
  });
  for (const [payload, category] of attacks) {
    // Each offset moves every escape of the payload across the step's edge in turn.
    for (let offset = 0; offset < 32; offset++) {
      const req = form(payload, offset);
      const a = scanned.run(policy, req);
      assert.equal(a.block?.category, category, `${payload} at offset ${offset}`);
      assert.equal(a.block?.field, 'field7');
      const b = searched.run(policy, req);
      assert.deepEqual({ block: a.block, monitor: a.monitor }, { block: b.block, monitor: b.monitor });
    }
  }
  // The prose alone passes: the attacks above were found, not the escapes around them.
  assert.equal(scanned.run(policy, form('nothing+here', 0)).block, null);
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
    { numRuns: 600 },
  );
  assert.ok(blocked > 30, `blocked ${blocked} times`);
});

test('a form body given as its bytes is marked as its text is, and refused by the sift for a byte above 0x7f at every offset', () => {
  const s = scannerOrFail();
  const tables = bodyScanTables(ALL_ATTACK_CATEGORIES);
  const sieve = bodyScanSieve(ALL_ATTACK_CATEGORIES);
  const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
  // ASCII bodies of every length around the 64-byte turns: the same records from the bytes as from the text.
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 63 }), (fields, pad) => {
      const text = fields.map((f, i) => `f${i}=${f}`).join('&') + 'z'.repeat(pad);
      const fromText = s.scanForm(text, tables, sieve);
      const textMarks = markedOffsets(s, fromText);
      const fromBytes = s.scanForm(text, tables, sieve, Buffer.from(text, 'latin1'));
      assert.equal(fromBytes, fromText);
      assert.deepEqual(markedOffsets(s, fromBytes), textMarks);
    }),
    { numRuns: 300 },
  );
  // 0xbc, 0xa7, 0xa5, 0xa6 and 0xbd are `<`, `'`, `%`, `&` and `=` with the top bit set: read as 7 bits they would pass as those.
  const base = Buffer.from(`f0=${PROSE.slice(0, 2 * RAW_FIELD_FROM)}&f1=%27x`, 'latin1');
  assert.ok(s.scanForm(latin1(base), tables, sieve, base) >= 0);
  for (const high of [0x80, 0xbc, 0xa7, 0xa5, 0xa6, 0xbd, 0xc4, 0xe9, 0xff]) {
    for (let at = 0; at < base.length; at++) {
      const bytes = Buffer.from(base);
      bytes[at] = high;
      assert.equal(s.scanForm(latin1(bytes), tables, sieve, bytes), NOT_ASCII, `byte ${high} at ${at}`);
    }
  }
  // At either end of a 64 KiB body, whose only mark it is; then the body alone is scanned (nothing left behind).
  const long = Buffer.alloc(64 * 1024, 'a');
  for (const at of [0, long.length - 1]) {
    const bytes = Buffer.from(long);
    bytes[at] = 0xe9;
    assert.equal(s.scanForm(latin1(bytes), tables, sieve, bytes), NOT_ASCII);
  }
  assert.equal(s.scanForm(latin1(long), tables, sieve, long), 0);
});

test('a request scan given the body bytes reaches the outcome of one given the text only, non-ASCII bodies included', () => {
  const s = scannerOrFail();
  const policy = compileAttackPolicy(normalizeAttackSettings('block')!)!;
  const withBytes = new RequestAttackScan(s);
  const searched = new RequestAttackScan(null);
  let blocked = 0;
  let nonAscii = 0;
  // A body as received: UTF-8 bytes read as latin1, so é arrives as two characters above 0x7f.
  const other = fc.constantFrom('', '\u00c3\u00a9', '\u00e9', '\u00ff', '\u0080');
  fc.assert(
    fc.property(fc.array(fc.tuple(field, other, fc.nat()), { minLength: 1, maxLength: 3 }), (parts) => {
      const text = parts.map(([f, o, at], i) => `f${i}=${f.slice(0, at % (f.length + 1))}${o}${f.slice(at % (f.length + 1))}`).join('&');
      if (/[\x80-\xff]/.test(text)) nonAscii++;
      const bytes = Buffer.from(text, 'latin1');
      const a = withBytes.run(policy, { path: '/comment', url: '/comment', body: { kind: 'form' as const, text, bytes } });
      const outcome = { block: a.block, monitor: a.monitor, cut: a.cut };
      const b = searched.run(policy, { path: '/comment', url: '/comment', body: { kind: 'form' as const, text } });
      assert.deepEqual(outcome, { block: b.block, monitor: b.monitor, cut: b.cut });
      if (outcome.block !== null) blocked++;
    }),
    { numRuns: 400 },
  );
  assert.ok(blocked > 20 && nonAscii > 100, `blocked ${blocked}, non-ASCII ${nonAscii}`);
});
