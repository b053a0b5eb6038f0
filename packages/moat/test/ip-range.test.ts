// Ranges: parseRange / formatRange / rangeToCidrs / splitByFamily / words, checked against ipaddr.js's
// CIDR arithmetic and against an independent recursive CIDR decomposition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {
  IPV4_MAPPED_FIRST,
  IPV4_MAPPED_LAST,
  IpParseError,
  formatIp,
  formatRange,
  ipv6Words,
  parseRange,
  rangeToCidrs,
  splitByFamily,
  tryParseRange,
  wordsToBigint,
} from '../src/ip/index.js';
import type { IpFamily, IpRange } from '../src/ip/index.js';

const RUNS = { numRuns: 1000 };
const MAX4 = 0xffff_ffffn;
const MAX6 = (1n << 128n) - 1n;
const bitsOf = (family: IpFamily): number => (family === 4 ? 32 : 128);

const v4Value = fc.bigInt({ min: 0n, max: MAX4 });
/** 128-bit values biased towards interesting places: zero runs, the mapped block, the top. */
const v6Value = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX6 }),
  fc.bigInt({ min: 0n, max: 0xffff_ffff_ffffn }),
  fc.bigInt({ min: 0n, max: MAX4 }).map((v) => IPV4_MAPPED_FIRST + v),
  fc.bigInt({ min: 0n, max: MAX4 }).map((v) => MAX6 - v),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.bigInt({ min: 0n, max: 0xffffn })).map(([hi, lo]) => (BigInt(hi) << 112n) | lo),
);

function bigintOf(bytes: readonly number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** The range a textual CIDR must give, by ipaddr.js's network/broadcast arithmetic. */
function oracleCidr(text: string): IpRange {
  const [addressText, prefixText] = text.split('/');
  const family: IpFamily = addressText.includes(':') ? 6 : 4;
  const kind = family === 4 ? ipaddr.IPv4 : ipaddr.IPv6;
  const start = bigintOf(kind.networkAddressFromCIDR(text).toByteArray());
  const end = bigintOf(kind.broadcastAddressFromCIDR(text).toByteArray());
  assert.ok(Number(prefixText) <= bitsOf(family));
  if (family === 6 && start >= IPV4_MAPPED_FIRST && end <= IPV4_MAPPED_LAST) {
    return { family: 4, start: start - IPV4_MAPPED_FIRST, end: end - IPV4_MAPPED_FIRST };
  }
  return { family, start, end };
}

/**
 * Independent oracle for rangeToCidrs: walk the binary trie of prefixes from the root, taking a node when
 * it lies inside the range and descending when it only overlaps. This yields the unique minimal cover.
 */
function trieCover(family: IpFamily, start: bigint, end: bigint): Array<[bigint, number]> {
  const bits = bitsOf(family);
  const found: Array<[bigint, number]> = [];
  const visit = (network: bigint, length: number): void => {
    const last = network + (1n << BigInt(bits - length)) - 1n;
    if (last < start || network > end) return;
    if (network >= start && last <= end) {
      found.push([network, length]);
      return;
    }
    const half = 1n << BigInt(bits - length - 1);
    visit(network, length + 1);
    visit(network + half, length + 1);
  };
  visit(0n, 0);
  return found;
}

const v4Range = fc.tuple(v4Value, v4Value).map(([a, b]): IpRange => ({ family: 4, start: a < b ? a : b, end: a < b ? b : a }));
const v6Range = fc.oneof(
  fc.tuple(v6Value, v6Value),
  // short spans, so that blocks of every size show up
  fc.tuple(v6Value, fc.bigInt({ min: 0n, max: 1n << 20n })).map(([a, span]) => [a, a + span > MAX6 ? MAX6 : a + span] as const),
).map(([a, b]): IpRange => ({ family: 6, start: a < b ? a : b, end: a < b ? b : a }));
const anyRange = fc.oneof(v4Range, v6Range);

// ---------- CIDR normalisation ----------

test('IPv4 CIDR: host bits are normalised exactly as ipaddr.js computes network and broadcast', () => {
  fc.assert(
    fc.property(v4Value, fc.integer({ min: 0, max: 32 }), (value, prefix) => {
      const text = `${formatIp({ family: 4, value })}/${prefix}`;
      const range = parseRange(text);
      assert.deepEqual(range, oracleCidr(text));
      const network = formatIp({ family: 4, value: range.start });
      assert.equal(formatRange(range), prefix === 32 ? network : `${network}/${prefix}`);
    }),
    RUNS,
  );
});

test('IPv6 CIDR: the same, with blocks inside ::ffff:0:0/96 coming back as IPv4', () => {
  fc.assert(
    fc.property(v6Value, fc.integer({ min: 0, max: 128 }), (value, prefix) => {
      const text = `${formatIp({ family: 6, value })}/${prefix}`;
      assert.deepEqual(parseRange(text), oracleCidr(text), text);
    }),
    RUNS,
  );
  assert.deepEqual(parseRange('::ffff:1.2.3.4/120'), { family: 4, start: 0x01020300n, end: 0x010203ffn });
  assert.deepEqual(parseRange('::ffff:0:0/96'), { family: 4, start: 0n, end: MAX4 });
  assert.deepEqual(parseRange('::ffff:0:0/95'), { family: 6, start: 0xfffe_0000_0000n, end: IPV4_MAPPED_LAST });
  assert.deepEqual(parseRange('::/0'), { family: 6, start: 0n, end: MAX6 });
  assert.deepEqual(parseRange('10.1.2.3/0'), { family: 4, start: 0n, end: MAX4 });
  assert.deepEqual(parseRange('10.1.2.3/32'), { family: 4, start: 0x0a010203n, end: 0x0a010203n });
  assert.deepEqual(parseRange(' 10.1.2.3 / 8 '), { family: 4, start: 0x0a000000n, end: 0x0affffffn });
  assert.deepEqual(parseRange('[2001:db8::1]/32'), parseRange('2001:db8::/32'));
});

// ---------- parse / format ----------

test('parseRange reads single addresses and start-end ranges', () => {
  assert.deepEqual(parseRange('1.2.3.4'), { family: 4, start: 0x01020304n, end: 0x01020304n });
  assert.deepEqual(parseRange('::ffff:1.2.3.4'), { family: 4, start: 0x01020304n, end: 0x01020304n });
  assert.deepEqual(parseRange('2001:DB8::1'), { family: 6, start: 0x2001_0db8n << 96n | 1n, end: 0x2001_0db8n << 96n | 1n });
  assert.deepEqual(parseRange('1.2.3.4-1.2.3.9'), { family: 4, start: 0x01020304n, end: 0x01020309n });
  assert.deepEqual(parseRange(' 1.2.3.4 - 1.2.3.9 '), parseRange('1.2.3.4-1.2.3.9'));
  assert.deepEqual(parseRange('1.2.3.4\t-\t1.2.3.4'), parseRange('1.2.3.4'));
  assert.deepEqual(parseRange('::ffff:1.2.3.4 - 1.2.3.9'), parseRange('1.2.3.4-1.2.3.9'));
  assert.deepEqual(parseRange('::1 - ::ffff:0.0.0.5'), { family: 6, start: 1n, end: IPV4_MAPPED_FIRST + 5n });
  assert.deepEqual(parseRange('fe80::1%br-lan - fe80::9%br-lan'), { family: 6, start: 0xfe80n << 112n | 1n, end: 0xfe80n << 112n | 9n });
  assert.deepEqual(parseRange('fe80::1%br-lan'), { family: 6, start: 0xfe80n << 112n | 1n, end: 0xfe80n << 112n | 1n });
});

test('formatRange: an address, a CIDR block, or start-end', () => {
  const cases: Array<[IpRange, string]> = [
    [{ family: 4, start: 0x01020304n, end: 0x01020304n }, '1.2.3.4'],
    [{ family: 4, start: 0x01020300n, end: 0x010203ffn }, '1.2.3.0/24'],
    [{ family: 4, start: 0x01020304n, end: 0x01020305n }, '1.2.3.4/31'],
    [{ family: 4, start: 0x01020305n, end: 0x01020306n }, '1.2.3.5-1.2.3.6'],
    [{ family: 4, start: 0n, end: MAX4 }, '0.0.0.0/0'],
    [{ family: 6, start: 0n, end: MAX6 }, '::/0'],
    [{ family: 6, start: 1n, end: 1n }, '::1'],
    [{ family: 6, start: 0x2001_0db8n << 96n, end: (0x2001_0db8n << 96n) | ((1n << 96n) - 1n) }, '2001:db8::/32'],
    [{ family: 6, start: 1n, end: 3n }, '::1-::3'],
    [{ family: 6, start: 0n, end: IPV4_MAPPED_FIRST + 5n }, '::-::ffff:0.0.0.5'],
  ];
  for (const [range, text] of cases) {
    assert.equal(formatRange(range), text);
    assert.deepEqual(splitByFamily(parseRange(text)), splitByFamily(range), text);
  }
  assert.throws(() => formatRange({ family: 4, start: 5n, end: 4n }), { code: 'MOAT_ERR_IP_INVALID' });
  assert.throws(() => formatRange({ family: 4, start: 0n, end: MAX4 + 1n }), { code: 'MOAT_ERR_IP_INVALID' });
  assert.throws(() => formatRange({ family: 6, start: -1n, end: 0n }), { code: 'MOAT_ERR_IP_INVALID' });
});

test('formatRange then parseRange gives the same addresses back', () => {
  fc.assert(
    fc.property(anyRange, (range) => {
      const text = formatRange(range);
      const again = parseRange(text);
      // A v6 range inside ::ffff:0:0/96 comes back as IPv4; split both to compare the addresses covered.
      assert.deepEqual(splitByFamily(again), splitByFamily(range), text);
      assert.deepEqual(parseRange(formatRange(again)), again);
    }),
    RUNS,
  );
});

test('rejected ranges: IpParseError quoting the input', () => {
  const cases: Array<[string, RegExp | null]> = [
    ['', /empty/],
    ['  ', /empty/],
    ['1.2.3.4/33', /0 to 32/],
    ['::1/129', /0 to 128/],
    ['1.2.3.0/08', /leading zeros/],
    ['1.2.3.0/-1', /prefix/],
    ['1.2.3.0/+8', /prefix/],
    ['1.2.3.0/', /prefix/],
    ['1.2.3.0/8/8', /prefix/],
    ['1.2.3.0/24.0', /prefix/],
    ['/24', /empty/],
    ['01.2.3.0/24', /octal/],
    ['1.2.3.9-1.2.3.4', /after/],
    ['::9-::1', /after/],
    ['1.2.3.4-::1', /same family/],
    ['::1-1.2.3.4', /same family/],
    ['1.2.3.4-', /end/],
    ['-1.2.3.4', /start/],
    ['1.2.3.4--1.2.3.5', null],
    ['1.2.3.4-1.2.3.5-1.2.3.6', null],
    ['1.2.3.0/24-1.2.4.0', /prefix/],
    ['1.2.3', /exactly 4/],
    ['garbage', /neither/],
    ['1.2.3.4 1.2.3.5', null],
  ];
  for (const [text, reason] of cases) {
    assert.equal(tryParseRange(text), null, text);
    assert.throws(
      () => parseRange(text),
      (error: unknown) => {
        assert.ok(error instanceof IpParseError, text);
        assert.equal(error.input, text);
        assert.ok(error.message.startsWith(`invalid IP range ${JSON.stringify(text)}`), error.message);
        if (reason) assert.match(error.message, reason, `${text}: ${error.message}`);
        return true;
      },
    );
  }
  assert.equal(tryParseRange(undefined as unknown as string), null);
});

// ---------- rangeToCidrs ----------

test('rangeToCidrs: blocks are disjoint, contiguous, cover exactly the range, and are the minimal cover', () => {
  fc.assert(
    fc.property(anyRange, (range) => {
      const blocks = rangeToCidrs(range);
      assert.ok(blocks.length >= 1 && blocks.length <= 2 * bitsOf(range.family));
      let next = range.start;
      for (const block of blocks) {
        assert.match(block, /\/\d+$/);
        // A v6 block inside the mapped area parses as IPv4: shift it back into the v6 space.
        const part = parseRange(block);
        const start = part.family === range.family ? part.start : part.start + IPV4_MAPPED_FIRST;
        const end = part.family === range.family ? part.end : part.end + IPV4_MAPPED_FIRST;
        assert.equal(start, next, `${block} does not start where the previous block ended`);
        assert.ok(end >= start);
        next = end + 1n;
      }
      assert.equal(next, range.end + 1n, 'the blocks stop short of, or run past, the end');
      const expected = trieCover(range.family, range.start, range.end).map(
        ([network, length]) => `${formatIp({ family: range.family, value: network })}/${length}`,
      );
      assert.deepEqual(blocks, expected);
    }),
    RUNS,
  );
});

test('rangeToCidrs on known cases', () => {
  const count = (text: string): number => rangeToCidrs(parseRange(text)).length;
  assert.deepEqual(rangeToCidrs(parseRange('1.2.3.4-1.2.3.9')), ['1.2.3.4/30', '1.2.3.8/31']);
  assert.deepEqual(rangeToCidrs(parseRange('1.2.3.4')), ['1.2.3.4/32']);
  assert.deepEqual(rangeToCidrs(parseRange('0.0.0.0-255.255.255.255')), ['0.0.0.0/0']);
  assert.deepEqual(rangeToCidrs(parseRange('10.0.0.0-10.0.1.255')), ['10.0.0.0/23']);
  assert.deepEqual(rangeToCidrs(parseRange('10.0.0.255-10.0.1.0')), ['10.0.0.255/32', '10.0.1.0/32']);
  assert.equal(count('0.0.0.1-255.255.255.254'), 62); // the worst case: 2 * (32 - 1)
  assert.equal(count('::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe'), 254);
  assert.deepEqual(rangeToCidrs(parseRange('::/0')), ['::/0']);
  assert.deepEqual(rangeToCidrs(parseRange('2001:db8::-2001:db8::ffff')), ['2001:db8::/112']);
  assert.throws(() => rangeToCidrs({ family: 4, start: 2n, end: 1n }), { code: 'MOAT_ERR_IP_INVALID' });
});

// ---------- splitByFamily ----------

test('splitByFamily cuts v6 ranges at ::ffff:0:0/96 and turns the inside into IPv4', () => {
  const near = (edge: bigint) => fc.bigInt({ min: -3n, max: 3n }).map((d) => edge + d);
  const endpoint = fc.oneof(near(IPV4_MAPPED_FIRST), near(IPV4_MAPPED_LAST), near(IPV4_MAPPED_FIRST + 0x0102_0304n), v6Value);
  fc.assert(
    fc.property(endpoint, endpoint, (a, b) => {
      const range: IpRange = { family: 6, start: a < b ? a : b, end: a < b ? b : a };
      const parts = splitByFamily(range);
      assert.ok(parts.length >= 1 && parts.length <= 3);
      let next = range.start;
      for (const part of parts) {
        assert.ok(part.start <= part.end);
        if (part.family === 4) {
          assert.ok(part.end <= MAX4);
          assert.equal(part.start + IPV4_MAPPED_FIRST, next);
          next = part.end + IPV4_MAPPED_FIRST + 1n;
        } else {
          assert.ok(part.end < IPV4_MAPPED_FIRST || part.start > IPV4_MAPPED_LAST, `${formatRange(part)} overlaps the mapped block`);
          assert.equal(part.start, next);
          next = part.end + 1n;
        }
      }
      assert.equal(next, range.end + 1n);
      const overlaps = range.start <= IPV4_MAPPED_LAST && range.end >= IPV4_MAPPED_FIRST;
      assert.equal(parts.some((p) => p.family === 4), overlaps);
    }),
    RUNS,
  );
  assert.deepEqual(splitByFamily(parseRange('::/0')).map(formatRange), [
    '::-::fffe:ffff:ffff',
    '0.0.0.0/0',
    '::1:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ]);
  const v4: IpRange = { family: 4, start: 1n, end: 2n };
  assert.equal(splitByFamily(v4)[0], v4);
});

// ---------- words ----------

test('ipv6Words and wordsToBigint are inverse, big-endian, and read Int32Array words as unsigned', () => {
  fc.assert(
    fc.property(v6Value, fc.integer({ min: 0, max: 4 }), (value, offset) => {
      const out = new Uint32Array(8);
      ipv6Words(value, out, offset);
      assert.equal(wordsToBigint(out, offset), value);
      assert.deepEqual(
        Array.from(out.subarray(offset, offset + 4)),
        [0, 1, 2, 3].map((k) => Number((value >> BigInt(96 - 32 * k)) & 0xffff_ffffn)),
      );
      assert.equal(wordsToBigint(new Int32Array(out.buffer), offset), value);
    }),
    RUNS,
  );
  const out = new Uint32Array(4);
  ipv6Words(0x2001_0db8_0000_0000_0000_0000_0000_0001n, out, 0);
  assert.deepEqual([...out], [0x20010db8, 0, 0, 1]);
});
