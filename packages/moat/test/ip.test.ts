// Addresses: parseIp / tryParseIp / parseIpInto / formatIp, checked against ipaddr.js as an oracle
// (tests only) and against each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { IpParseError, formatIp, parseIp, parseIpInto, tryParseIp, wordsToBigint } from '../src/ip/index.js';
import type { IpAddress } from '../src/ip/index.js';

const RUNS = { numRuns: 2000 };
const MAPPED_FIRST = 0xffff_0000_0000n;

// ---------- generators of addresses and of their many textual forms ----------

const group = fc.oneof(
  { weight: 4, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xff }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
/** Eight 16-bit groups, zero-heavy so that "::" appears; sometimes IPv4-mapped. */
const groups8 = fc
  .tuple(fc.array(group, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 5 }))
  .map(([g, mode]) => (mode === 0 ? [0, 0, 0, 0, 0, 0xffff, g[6], g[7]] : g));

function groupsToBigint(g: readonly number[]): bigint {
  return g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);
}

/** What an address written with these groups must parse to. */
function expectedAddress(g: readonly number[]): IpAddress {
  const value = groupsToBigint(g);
  return value >> 32n === 0xffffn ? { family: 4, value: value - MAPPED_FIRST } : { family: 6, value };
}

interface TextForm {
  /** Which zero run to write as "::": index into the list of candidate runs, or -1 for none. */
  readonly compress: number;
  readonly upperCase: readonly boolean[];
  readonly padding: readonly number[]; // extra leading zeros per group (limited to 4 digits)
  readonly embedIpv4: boolean;
  readonly zone: string | null;
}

const textForm = fc.record({
  compress: fc.integer({ min: -1, max: 40 }),
  upperCase: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
  padding: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
  embedIpv4: fc.boolean(),
  zone: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/), { freq: 3 }),
});

/** Writes the groups in one of the many valid IPv6 spellings (without brackets or whitespace). */
function writeIpv6(g: readonly number[], form: TextForm): string {
  const runs: Array<[number, number]> = []; // every [start, length) of consecutive zero groups
  for (let s = 0; s < 8; s++) for (let e = s; e < 8 && g[e] === 0; e++) runs.push([s, e - s + 1]);
  const run = form.compress >= 0 && runs.length > 0 ? runs[form.compress % runs.length] : null;
  const embed = form.embedIpv4 && (run === null || run[0] + run[1] <= 6);
  const lastHex = embed ? 6 : 8;
  let i = 0;
  const hex = (j: number): string => {
    const digits = g[j].toString(16);
    const padded = '0'.repeat(Math.min(form.padding[j], 4 - digits.length)) + digits;
    return [...padded].map((ch) => (form.upperCase[i++ % 32] ? ch.toUpperCase() : ch)).join('');
  };
  const parts: string[] = [];
  for (let j = 0; j < lastHex; j++) parts.push(hex(j));
  if (embed) parts.push(`${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`);
  let text: string;
  if (run === null) text = parts.join(':');
  else {
    const [start, length] = run;
    // parts has 7 entries when embedding (the dotted tail stands for groups 6 and 7).
    const before = parts.slice(0, start).join(':');
    const after = parts.slice(start + length).join(':');
    text = `${before}::${after}`;
  }
  return form.zone === null ? text : `${text}%${form.zone}`;
}

// ---------- the oracle ----------

/** ipaddr.js's reading of a text, or null when it rejects it. */
function oracle(text: string): IpAddress | null {
  if (!ipaddr.isValid(text)) return null;
  const parsed = ipaddr.parse(text);
  if (parsed.kind() === 'ipv4') {
    // ipaddr.js also accepts "1", "0x7f.1", "01.2.3.4"…; the four-part decimal check keeps it strict.
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
    return { family: 4, value: BigInt(ipaddr.IPv4.parse(text).toByteArray().reduce((a, b) => a * 256 + b, 0)) };
  }
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) {
    return { family: 4, value: BigInt(v6.toIPv4Address().toByteArray().reduce((a, b) => a * 256 + b, 0)) };
  }
  return { family: 6, value: groupsToBigint(v6.parts) };
}

/**
 * ipaddr.js reads "::a.b.c.d" (the deprecated IPv4-compatible form) as "::ffff:a.b.c.d"; that is a bug in
 * the oracle, not a difference of opinion, so such texts are checked against the expected value only.
 */
function oracleMisreads(text: string): boolean {
  return /^::\d+\.\d+\.\d+\.\d+(%.*)?$/.test(text);
}

function viaInto(text: string): IpAddress | null {
  const out = new Uint32Array(4);
  const family = parseIpInto(text, out);
  if (family === 0) return null;
  return family === 4 ? { family, value: BigInt(out[0]) } : { family, value: wordsToBigint(out, 0) };
}

function dotted(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

// ---------- properties ----------

test('IPv4: parseIp, parseIpInto and formatIp agree with ipaddr.js and round-trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const text = dotted(n);
      const expected: IpAddress = { family: 4, value: BigInt(n) };
      assert.deepEqual(oracle(text), expected);
      assert.deepEqual(parseIp(text), expected);
      assert.deepEqual(viaInto(text), expected);
      assert.equal(formatIp(expected), ipaddr.IPv4.parse(text).toString());
      assert.deepEqual(parseIp(formatIp(expected)), expected);
    }),
    RUNS,
  );
});

test('IPv6: every textual form parses to the same address as ipaddr.js, in both parsers', () => {
  fc.assert(
    fc.property(groups8, textForm, (g, form) => {
      const text = writeIpv6(g, form);
      const expected = expectedAddress(g);
      if (!oracleMisreads(text)) assert.deepEqual(oracle(text), expected, `oracle on ${text}`);
      assert.deepEqual(parseIp(text), expected, text);
      assert.deepEqual(tryParseIp(text), expected, text);
      assert.deepEqual(viaInto(text), expected, text);
      // The same text in brackets or with surrounding whitespace means the same address.
      assert.deepEqual(parseIp(`[${text}]`), expected);
      assert.deepEqual(viaInto(` \t${text}\r\n`), expected);
    }),
    RUNS,
  );
});

test('IPv6: formatIp is RFC 5952 (as ipaddr.js writes it) and round-trips', () => {
  fc.assert(
    fc.property(groups8, (g) => {
      const addr = expectedAddress(g);
      const text = formatIp(addr);
      const bytes = g.flatMap((x) => [x >> 8, x & 255]);
      if (addr.family === 6) {
        const reference = ipaddr.fromByteArray(bytes);
        assert.ok(reference instanceof ipaddr.IPv6, 'sixteen bytes are an IPv6 address');
        assert.equal(text, reference.toRFC5952String());
      } else assert.equal(text, ipaddr.fromByteArray(bytes.slice(12)).toString());
      assert.deepEqual(parseIp(text), addr);
      assert.deepEqual(viaInto(text), addr);
    }),
    RUNS,
  );
});

test('formatIp writes a family-6 value inside ::ffff:0:0/96 in mixed notation (RFC 5952 section 5)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const text = formatIp({ family: 6, value: MAPPED_FIRST + BigInt(n) });
      assert.equal(text, `::ffff:${dotted(n)}`);
      assert.deepEqual(parseIp(text), { family: 4, value: BigInt(n) });
    }),
    { numRuns: 200 },
  );
});

// Strings over the characters addresses are made of, so that near-misses are common.
const nearMiss = fc
  .array(fc.constantFrom(...'0123456789abcdefABCDEFg:::::....%[] '.split('')), { maxLength: 46 })
  .map((cs) => cs.join(''));

test('near-miss strings: whatever parseIp accepts, ipaddr.js reads the same; all entry points agree', () => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.oneof(nearMiss, groups8.chain((g) => textForm.map((f) => writeIpv6(g, f).slice(0, -1)))), (text) => {
      const got = tryParseIp(text);
      assert.deepEqual(viaInto(text), got);
      const bare = text.trim().replace(/^\[(.*)\]$/, '$1');
      if (got === null) {
        assert.throws(() => parseIp(text), IpParseError);
        // The converse, for texts ipaddr.js can read at all (no brackets or spaces): it accepts nothing we
        // reject, except dotted parts with leading zeros, which we refuse on purpose.
        if (text === bare && !/[:.]0\d[^:]*$/.test(text.split('%')[0])) {
          assert.equal(oracle(text), null, `oracle accepts ${JSON.stringify(text)}`);
        }
        return;
      }
      accepted++;
      assert.deepEqual(parseIp(text), got);
      // ipaddr.js allows only letters and digits in a zone; we allow RFC 6874's "-._~" too.
      const forOracle = bare.replace(/%.*$/, '%z');
      if (!oracleMisreads(forOracle)) assert.deepEqual(oracle(forOracle), got, `oracle on ${JSON.stringify(text)}`);
    }),
    RUNS,
  );
  assert.ok(accepted > 20, `only ${accepted} near-miss strings were valid: the generator is too weak`);
});

test('accepted forms', () => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['  10.0.0.1\t', '10.0.0.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    [' [2001:DB8::1] ', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0::1', '2001:db8::1'],
    ['2001:Db8::A:b', '2001:db8::a:b'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['0001:0002:0003:0004:0005:0006:0007:0008', '1:2:3:4:5:6:7:8'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
    ['[::ffff:10.0.0.1]', '10.0.0.1'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible: stays IPv6
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'], // NAT64: stays IPv6
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::ffff:1:2', '0.1.0.2'], // = 0:0:0:0:0:ffff:1:2, inside ::ffff:0:0/96
    ['::1:ffff:1:2', '::1:ffff:1:2'], // = 0:0:0:0:1:ffff:1:2, outside it
    ['ffff::1.2.3.4', 'ffff::102:304'],
    ['fe80::1%eth0', 'fe80::1'],
    ['fe80::1%br-lan', 'fe80::1'],
    ['fe80::1%eth0.100', 'fe80::1'],
    ['fe80::%25', 'fe80::'],
    ['[fe80::1%eth0]', 'fe80::1'],
    ['::ffff:1.2.3.4%eth0', '1.2.3.4'],
  ];
  for (const [text, canonical] of cases) {
    assert.equal(formatIp(parseIp(text)), canonical, text);
    assert.deepEqual(viaInto(text), parseIp(text), text);
  }
});

test('rejected forms: parseIp throws IpParseError quoting the input, tryParseIp and parseIpInto say no', () => {
  const cases: Array<[string, RegExp | null]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['[]', /empty/],
    ['1.2.3', /exactly 4/],
    ['1.2.3.4.5', /exactly 4/],
    ['1.2.3.', /empty IPv4 part/],
    ['1..2.3', /empty IPv4 part/],
    ['.1.2.3', null],
    ['256.1.2.3', /0 to 255/],
    ['1.2.3.1000', /0 to 255/],
    ['01.2.3.4', /leading zeros.*octal/],
    ['1.2.3.00', /leading zeros.*octal/],
    ['1.2.3.04', /leading zeros.*octal/],
    ['0x7f.0.0.1', null],
    ['1.2.3.-4', null],
    ['+1.2.3.4', null],
    ['1.2.3.4:80', /port/],
    ['[1.2.3.4]', /brackets/],
    ['1.2.3.4%eth0', null],
    ['1.2.3.4 x', null],
    ['1.2.3.4/32', null],
    ['127.1', /exactly 4/],
    ['2130706433', /neither/],
    ['localhost', /neither/],
    ['1:2:3:4:5:6:7:8:9', /8 groups/],
    ['1:2:3:4:5:6:7', /8 groups/],
    ['1:2:3:4:5:6:7:8::', /8 groups/],
    ['::1:2:3:4:5:6:7:8', /8 groups/],
    ['1::2:3:4:5:6:7:8', /8 groups/],
    ['1:2:3:4:5:6:7:1.2.3.4', /8 groups/],
    ['1::2::3', /only once/],
    ['::1::', /only once/],
    [':::', /empty IPv6 group/],
    [':1::', /empty IPv6 group/],
    ['1::2:', /empty IPv6 group/],
    ['1:2:3:4:5:6:7:8:', /empty IPv6 group/],
    [':', /empty IPv6 group/],
    ['12345::', /4 hex digits/],
    ['::00000', /4 hex digits/],
    ['::g', /unexpected/],
    ['2001:db8::1 x', /unexpected/],
    ['::1.2.3.4:5', /last 32 bits/],
    ['::1.2.3.4.5', /exactly 4/],
    ['::ffff:01.2.3.4', /leading zeros/],
    ['::ffff:1.2.3', /exactly 4/],
    ['::ffff:256.2.3.4', /0 to 255/],
    ['fe80::1%', /zone/],
    ['fe80::1%eth 0', /zone/],
    ['fe80::1%eth0%1', /zone/],
    ['fe80::1%eth/0', /zone/],
    ['[::1', /bracket/],
    ['::1]', /unexpected/],
    ['[::1]:80', /bracket/],
    ['[[::1]]', null],
    ['[fe80::1]%eth0', /bracket/],
    ['::1\u00a0', /unexpected/], // only ASCII whitespace is trimmed
    ['１.2.3.4', null], // full-width digit
  ];
  for (const [text, reason] of cases) {
    assert.equal(tryParseIp(text), null, JSON.stringify(text));
    assert.equal(parseIpInto(text, new Uint32Array(4)), 0, JSON.stringify(text));
    assert.throws(
      () => parseIp(text),
      (error: unknown) => {
        assert.ok(error instanceof IpParseError, JSON.stringify(text));
        assert.equal(error.input, text);
        assert.ok(error.message.startsWith(`invalid IP address ${JSON.stringify(text)}`), error.message);
        if (reason) assert.match(error.message, reason, JSON.stringify(text));
        return true;
      },
    );
  }
});

test('IpParseError shortens a long input in its message but keeps it whole in .input', () => {
  const text = 'x'.repeat(100_000);
  assert.throws(
    () => parseIp(text),
    (error: unknown) => {
      assert.ok(error instanceof IpParseError);
      assert.equal(error.input, text);
      assert.ok(error.message.length < 300, `message is ${error.message.length} characters`);
      assert.match(error.message, /^invalid IP address "x{80}"… \(100000 characters\)/);
      return true;
    },
  );
  // Control characters are escaped, so a hostile value cannot forge log lines.
  assert.throws(() => parseIp('1.2.3.4\nFAKE LOG LINE'), (e: unknown) => e instanceof Error && !e.message.includes('\n'));
});

test('parseIpInto never throws and returns 0 on random strings, including lone surrogates', () => {
  const out = new Uint32Array(4);
  const utf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 60 }).map((codes) => String.fromCharCode(...codes));
  const surrogateAfterIp = fc
    .tuple(groups8, textForm, fc.integer({ min: 0xd800, max: 0xdfff }))
    .map(([g, f, s]) => writeIpv6(g, f) + String.fromCharCode(s));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), utf16, surrogateAfterIp), (text) => {
      const family = parseIpInto(text, out);
      assert.ok(family === 0 || family === 4 || family === 6);
      assert.equal(family === 0, tryParseIp(text) === null);
      if (/[\ud800-\udfff]/.test(text)) assert.equal(family, 0);
    }),
    RUNS,
  );
  for (const s of ['\ud800', '::1\udc00', '\udbff\udfff', '1.2.3.4\ud83d']) assert.equal(parseIpInto(s, out), 0, JSON.stringify(s));
});

test('parseIpInto on 100 kB strings', () => {
  const out = new Uint32Array(4);
  const big = 100_000;
  for (const text of [
    '1'.repeat(big),
    'f'.repeat(big),
    ':'.repeat(big),
    '.'.repeat(big),
    '['.repeat(big),
    '1.'.repeat(big / 2),
    '1:'.repeat(big / 2),
    '::' + '1.2.3.4'.repeat(big / 7),
    '1.2.3.' + '9'.repeat(big),
    ' '.repeat(big) + 'x',
  ]) {
    assert.equal(parseIpInto(text, out), 0, `${text.slice(0, 12)}… (${text.length})`);
    assert.equal(tryParseIp(text), null);
  }
  // Whitespace is trimmed and a zone dropped, however long: these are still addresses.
  assert.equal(parseIpInto(' '.repeat(big) + '10.1.2.3' + '\n'.repeat(big), out), 4);
  assert.equal(out[0], 0x0a010203);
  assert.equal(parseIpInto('fe80::1%' + 'a'.repeat(big), out), 6);
  assert.deepEqual([...out], [0xfe800000, 0, 0, 1]);
});

test('parseIpInto writes IPv4 to out[0] and IPv6 as big-endian words', () => {
  const out = new Uint32Array(4);
  assert.equal(parseIpInto('255.254.253.252', out), 4);
  assert.equal(out[0], 0xfffefdfc);
  assert.equal(parseIpInto('::ffff:192.0.2.1', out), 4);
  assert.equal(out[0], 0xc0000201);
  assert.equal(parseIpInto('2001:db8:1:2:3:4:5:ffff', out), 6);
  assert.deepEqual([...out], [0x20010db8, 0x00010002, 0x00030004, 0x0005ffff]);
  assert.equal(parseIpInto('not an ip', out), 0);
  // Untyped callers may hand over a missing header.
  assert.equal(parseIpInto(undefined as unknown as string, out), 0);
});

test('parseIpInto does not allocate (no garbage collection during a million parses)', () => {
  // A child process with --trace-gc: had each parse allocated even a few bytes, a million of them would
  // fill the young generation several times over and scavenges would show between the markers.
  const module = fileURLToPath(new URL('../src/ip/parse-into.ts', import.meta.url));
  const script = `
    const { parseIpInto } = await import(${JSON.stringify(module)});
    const inputs = ['203.0.113.7', '2001:db8::1', '::ffff:10.0.0.1', 'fe80::1%eth0', '[2001:db8:0:0:1:0:0:1]',
      'garbage', '01.2.3.4', '1:2:3:4:5:6:7:8', ' 10.0.0.1 ', '1.2.3.4:80'];
    const out = new Uint32Array(4);
    let sum = 0;
    for (let r = 0; r < 100000; r++) for (let i = 0; i < inputs.length; i++) sum += parseIpInto(inputs[i], out);
    console.log('START');
    for (let r = 0; r < 100000; r++) for (let i = 0; i < inputs.length; i++) sum += parseIpInto(inputs[i], out);
    console.log('END', sum);
  `;
  const child = spawnSync(process.execPath, ['--trace-gc', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const between = child.stdout.split('START')[1]?.split('END')[0];
  assert.ok(between !== undefined, child.stdout);
  assert.doesNotMatch(between, /Scavenge|Mark-Compact|Mark-sweep/i);
  assert.match(child.stdout, /END 7200000\b/); // the parses really ran: 200k rounds of 4+6+4+6+6+0+0+6+4+0 = 36
});
