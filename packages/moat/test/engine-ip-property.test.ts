// Property test of IP rules end to end: random, heavily overlapping allow/block rule sets (IPv4, IPv6 and
// IPv4-mapped IPv6; singles, CIDRs, ranges; monitor mode and expiry) are compiled into a real rules file
// and opened; every rule's start, end, start-1 and end+1, plus random pool addresses written in varied
// textual forms, must get exactly the decision of a naive oracle that scans every rule with bigints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { Engine, normalizeRule, writeRulesFile } from '../src/index.js';
import { parseRange } from '../src/ip/index.js';
import type { Rule, RuleInput } from '../src/index.js';
import {
  MAPPED_FIRST, addrText, boundaryAddrs, classify, makeTmpDir, oracleIp, removeDir, v4Text, v4Value, v6Expanded,
} from './helpers/engine-kit.js';
import type { Addr } from './helpers/engine-kit.js';

const NOW = Date.UTC(2026, 5, 1);
const B4 = v4Value('10.0.0.0');
const B6 = 0x2001_0db8n << 96n;
const POOL = 1024; // small pools: overlaps, nesting and shared bounds happen all the time

type Family = 'v4' | 'v6' | 'mapped';

const spec = fc.record({
  family: fc.constantFrom<Family>('v4', 'v4', 'v6', 'v6', 'mapped'),
  shape: fc.constantFrom('single', 'cidr', 'range', 'wide'),
  a: fc.integer({ min: 0, max: POOL - 1 }),
  b: fc.integer({ min: 0, max: POOL - 1 }),
  prefixBits: fc.integer({ min: 0, max: 10 }), // host bits of a CIDR inside the pool
  action: fc.constantFrom('allow', 'block', 'block'),
  mode: fc.constantFrom('block', 'block', 'block', 'block', 'monitor'),
  expires: fc.constantFrom<'none' | 'past' | 'future'>('none', 'none', 'none', 'none', 'past', 'future'),
  id: fc.option(fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5', 'r6'), { freq: 3 }),
  upper: fc.boolean(),
});
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

function valueText(s: Spec): string {
  const lo = Math.min(s.a, s.b);
  const hi = Math.max(s.a, s.b);
  if (s.family === 'v4') {
    const t = (o: number) => v4Text(B4 + BigInt(o));
    switch (s.shape) {
      case 'single': return t(s.a);
      case 'cidr': return `${t(s.a)}/${32 - s.prefixBits}`;
      case 'range': return `${t(lo)} - ${t(hi)}`;
      default: return s.a % 2 === 0 ? '10.0.0.0/8' : '0.0.0.0/0';
    }
  }
  if (s.family === 'mapped') {
    const t = (o: number) => `::ffff:${v4Text(B4 + BigInt(o))}`;
    switch (s.shape) {
      case 'single': return t(s.a);
      case 'cidr': return `${t(s.a)}/${128 - s.prefixBits}`;
      case 'range': return `${t(lo)}-${t(hi)}`;
      default: return '::ffff:0.0.0.0/96';
    }
  }
  const t = (o: number) => v6Expanded(B6 + BigInt(o), s.upper);
  switch (s.shape) {
    case 'single': return t(s.a);
    case 'cidr': return `${t(s.a)}/${128 - s.prefixBits}`;
    case 'range': return `${t(lo)}-${t(hi)}`;
    default: return s.a % 2 === 0 ? '2001:db8::/32' : '::/0';
  }
}

function toRules(specs: Spec[]): Rule[] {
  const byId = new Map<string, Rule>();
  for (const s of specs) {
    const input: RuleInput = { action: s.action as 'allow' | 'block', kind: 'ip', value: valueText(s), mode: s.mode as 'block' | 'monitor' };
    if (s.id !== null) input.id = s.id;
    if (s.expires !== 'none') input.expires = s.expires === 'past' ? NOW - 1000 : NOW + 1000;
    const r = normalizeRule(input);
    if (!byId.has(r.id)) byId.set(r.id, r);
  }
  return [...byId.values()];
}

const extraAddrs = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: POOL + 3 }).map((o): Addr => ({ family: 4, value: B4 + BigInt(o) - 2n })),
    fc.integer({ min: 0, max: POOL + 3 }).map((o): Addr => ({ family: 6, value: B6 + BigInt(o) - 2n })),
    fc.constantFrom<Addr>(
      { family: 4, value: v4Value('9.255.255.255') }, { family: 4, value: v4Value('11.0.0.0') },
      { family: 4, value: 0n }, { family: 4, value: (1n << 32n) - 1n },
      { family: 6, value: 1n }, { family: 6, value: (1n << 128n) - 1n }, { family: 6, value: MAPPED_FIRST - 1n },
      { family: 6, value: MAPPED_FIRST + (1n << 32n) }, { family: 6, value: (0x2001_0db9n << 96n) },
    ),
  ),
  { maxLength: 25 },
);

test('IP decisions equal the naive oracle on random overlapping rule sets (real files)', () => {
  const dir = makeTmpDir();
  let n = 0;
  try {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 14 }),
        extraAddrs,
        fc.array(fc.integer(), { minLength: 14, maxLength: 14 }),
        fc.nat(),
        (specs, extra, shuffleKeys, formSeed) => {
          const rules = toRules(specs);
          const file = path.join(dir, `r${n++}.db`);
          const written = writeRulesFile(rules, file);
          const engine = Engine.open({ rules: file, now: () => NOW });

          const addrs: Addr[] = [...extra];
          for (const r of rules) addrs.push(...boundaryAddrs(parseRange(r.value)));
          addrs.forEach((a0, i) => {
            const a = classify(a0.family, a0.value);
            const ip = addrText(a, formSeed + i);
            const got = engine.evaluate({ ip });
            const want = oracleIp(rules, a, NOW);
            const ctx = `${ip} with ${JSON.stringify(rules)}`;
            assert.equal(got.treatment, want.treatment, ctx);
            assert.equal(got.category, want.category, ctx);
            assert.equal(got.ruleId, want.ruleId, ctx);
            assert.deepEqual(got.monitored.map((m) => ({ category: m.category, ruleId: m.ruleId })), want.monitored, ctx);
            if (want.ruleId !== null) assert.equal(got.rule, rules.find((r) => r.id === want.ruleId)!.value, ctx);
          });

          // Same rules in another order: same content hash, same decisions.
          const order = rules.map((r, i) => ({ r, k: shuffleKeys[i % shuffleKeys.length] + i / 100 }));
          const shuffled = order.sort((x, y) => x.k - y.k).map((x) => x.r);
          const file2 = path.join(dir, `r${n++}.db`);
          const written2 = writeRulesFile(shuffled, file2, { builtAt: new Date(0) });
          assert.equal(written2.hash, written.hash);
          const engine2 = Engine.open({ rules: file2, now: () => NOW });
          assert.equal(engine2.rules.info.hash, written.hash);
          for (const a of addrs.slice(0, 12)) {
            const ip = addrText(classify(a.family, a.value));
            assert.deepEqual(engine2.evaluate({ ip }), engine.evaluate({ ip }));
          }
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    removeDir(dir);
  }
});

test('the oracle itself: a hand-checked case (allow beats block, most specific first, ties by id)', () => {
  const rules = [
    normalizeRule({ action: 'block', kind: 'ip', value: '10.0.0.0/24', id: 'b' }),
    normalizeRule({ action: 'block', kind: 'ip', value: '10.0.0.128/25', id: 'z' }),
    normalizeRule({ action: 'block', kind: 'ip', value: '10.0.0.128-10.0.0.255', id: 'a' }),
    normalizeRule({ action: 'allow', kind: 'ip', value: '10.0.0.7', mode: 'monitor', id: 'm' }),
    normalizeRule({ action: 'allow', kind: 'ip', value: '10.0.0.9' }),
  ];
  const at = (t: string) => oracleIp(rules, { family: 4, value: v4Value(t) }, NOW);
  assert.equal(at('10.0.0.200').ruleId, 'a'); // 'a' and 'z' are the same size: 'a' sorts first
  assert.equal(at('10.0.0.1').ruleId, 'b');
  assert.deepEqual(at('10.0.0.7'), { treatment: 'Blocked', category: 'bc', ruleId: 'b', monitored: [{ category: 'ai', ruleId: 'm' }] });
  assert.equal(at('10.0.0.9').category, 'ai');
  assert.equal(at('10.0.1.0').treatment, 'Passed');
});
