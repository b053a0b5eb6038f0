/**
 * The replay's distinct counter keeps canonical IPv4 text as numbers and everything else as strings: it
 * must count, report and merge exactly what a Set of the strings would. And the replay's key hashes, read
 * from a report's `keys` text on demand, must be what splitting the text into a Map gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DistinctCounter, canonicalIpv4Value } from '../src/replay/distinct-counter.js';
import { replayedRequest } from '../src/cli/commands/check-summary.js';

test('canonical dotted IPv4 text, and nothing else, has a number', () => {
  assert.equal(canonicalIpv4Value('0.0.0.0'), 0);
  assert.equal(canonicalIpv4Value('255.255.255.255'), 0xffffffff);
  assert.equal(canonicalIpv4Value('192.0.2.1'), 0xc0000201);
  assert.equal(canonicalIpv4Value('10.0.0.10'), 0x0a00000a);
  for (const other of ['01.2.3.4', '1.2.3.04', '1.2.3.00', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1.2.3.4 ', ' 1.2.3.4', '1..3.4', '.1.2.3',
    '1.2.3.', '::ffff:1.2.3.4', '::1', '0x7f.0.0.1', '1.2.3.4/32', '', '１.2.3.4', '1e1.2.3.4']) {
    assert.equal(canonicalIpv4Value(other), -1, other);
  }
});

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('00', '01', '007', '256', '999', ''));
const value = fc.oneof(
  // Few distinct addresses, so repeats are common; some octets non-canonical.
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), octet)
    .map(([a, b, c, d]) => `${a === 3 ? 255 : a}.${b}.${c === 3 ? '0' : c}.${d}`),
  fc.constantFrom('::1', '2001:db8::1', '::ffff:1.2.3.4', '1.2.3.4', '255.255.255.255', '0.0.0.0', 'not an ip', ''),
  fc.string({ maxLength: 16 }),
);

test('counts, states and merges match a Set of the strings', () => {
  fc.assert(fc.property(fc.array(value, { maxLength: 300 }), fc.nat(), (values, cut) => {
    const whole = new DistinctCounter();
    for (const v of values) whole.add(v);
    const expected = new Set(values);
    assert.equal(whole.count, expected.size);
    assert.equal(whole.atLeast, false);
    const state = whole.state();
    assert.deepEqual(new Set(state.values), expected);
    assert.equal(state.values.length, expected.size);
    // Two halves merged count each value once.
    const at = values.length === 0 ? 0 : cut % (values.length + 1);
    const first = new DistinctCounter();
    const second = new DistinctCounter();
    values.slice(0, at).forEach((v) => first.add(v));
    values.slice(at).forEach((v) => second.add(v));
    first.merge(second.state());
    assert.equal(first.count, expected.size);
  }), { numRuns: 300 });
});

test('a table of many addresses grows and still counts each once, with the cap across both kinds', () => {
  const counter = new DistinctCounter();
  for (let round = 0; round < 2; round++) for (let i = 0; i < 70_000; i++) counter.add(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(counter.count, 70_000);
  const capped = new DistinctCounter(10);
  for (let i = 0; i < 6; i++) capped.add(`192.0.2.${i}`);
  for (let i = 0; i < 4; i++) capped.add(`2001:db8::${i}`);
  capped.add('192.0.2.0');
  capped.add('2001:db8::0');
  assert.equal(capped.atLeast, false, 'values already held never make the count a bound');
  capped.add('192.0.2.200');
  assert.equal(capped.count, 10);
  assert.equal(capped.atLeast, true);
});

/** How the replay read `keys` before: split into a Map up front (the later of two equal keys wins). */
function splitKeys(text: string): Map<string, string> {
  const known = new Map<string, string>();
  for (const pair of text.split(' ')) {
    const eq = pair.lastIndexOf('=');
    if (eq > 0 && eq < pair.length - 1) known.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return known;
}

test("a report's key hashes are read as splitting its keys text would", () => {
  const token = fc.oneof(
    fc.constantFrom('header:x-api-key', 'user', 'cookie:sid', 'header:x', '', '=').chain((key) =>
      fc.constantFrom('0123456789abcdef0123456789abcdef', 'ff', '', '=', 'a=b').map((hash) => `${key}=${hash}`)),
    fc.constantFrom('user', 'junk', '', '=x', 'x='),
  );
  const asked = fc.constantFrom('header:x-api-key', 'user', 'cookie:sid', 'header:x', '', 'header:x-api', 'user=');
  fc.assert(fc.property(fc.array(token, { maxLength: 6 }), asked, (tokens, key) => {
    const text = tokens.join(' ');
    const known = replayedRequest({ ip: '192.0.2.1', keys: text }).knownKeyHashes!;
    assert.equal(known.get(key), splitKeys(text).get(key), `${JSON.stringify(text)} ${key}`);
  }), { numRuns: 500 });
});
