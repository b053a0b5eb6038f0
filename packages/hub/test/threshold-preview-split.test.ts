// The threshold preview split by key equals one pass. The same stored reports (a real SQLite store) are
// replayed by one worker's scan and by two halves of the keys split inside the database, whose crossings
// are then judged in one pass's order; every figure of the result must be the same, for rules by IP, by
// /64 and by a reported key, in enforce and monitor mode, with the site's cap, the rule's ban rate and
// the allow list refusing bans. Traffic mixes reports with and without the key, one key from several
// addresses, IPv4-mapped spellings of the same address, IPv6 clients of one /64, and counted records.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { tryParseRange } from 'moat-waf/ip';
import type { ReportRecord } from '../src/store/store.js';
import type { ReportScanSource } from '../src/store/report-scan.js';
import type { ThresholdPreviewResult, ThresholdPreviewWorkerInput, ThresholdPreviewWorkerMessage } from '../src/thresholds/threshold-preview.js';
import { splittableByKey } from '../src/thresholds/threshold-preview-split.js';
import { scanThresholds } from '../src/thresholds/threshold-preview-worker.js';
import type { ThresholdRuleInput } from '../src/thresholds/threshold-types.js';
import { startHubWithSite, type TestHub } from './support/hub-fixture.js';

const T0 = 1_800_000_000;
const HASHES = Array.from({ length: 10 }, (_, i) => ((i * 0x9e3779b1) >>> 0).toString(16).padStart(8, '0').repeat(4));

function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function traffic(seed: number, count: number): ReportRecord[] {
  const random = randomSource(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(list.length * random() * random())]!;
  const v4 = Array.from({ length: 24 }, (_, i) => `198.51.100.${i + 1}`);
  const v6 = Array.from({ length: 6 }, (_, i) => `2001:db8:${i % 3}::${i + 1}`);
  const records: ReportRecord[] = [];
  for (let i = 0; i < count; i++) {
    let ip = random() < 0.8 ? pick(v4) : pick(v6);
    if (ip.includes('.') && random() < 0.2) ip = `::ffff:${ip}`;
    const keys = random() < 0.4 ? null : [{ kind: 'header:x-api-key', hash: pick(HASHES) }];
    const treatment = random() < 0.2 ? 'Blocked' : random() < 0.1 ? 'Allowed' : 'Passed';
    records.push({
      ts: T0 + Math.floor((i / count) * 1800), ip, method: random() < 0.3 ? 'POST' : 'GET', host: 'h.test', path: random() < 0.7 ? '/login' : '/x',
      parameter: '', userAgent: `ua${i % 7}`, requestId: `r${seed}-${i}`, treatment, category: 'passed', rule: '-', ruleId: null, monitored: null,
      // Moat clients say where they read the address; now and then a gem's report (no source) or a proxy's own address.
      ipSource: i % 23 === 0 ? null : i % 19 === 0 ? 'proxy' : 'socket', country: null, keys, status: random() < 0.5 ? 401 : 200,
      aggregateCount: treatment === 'Passed' && random() < 0.1 ? 3 : undefined,
    } as ReportRecord);
  }
  return records;
}

function draft(over: Partial<ThresholdRuleInput>): ThresholdRuleInput {
  return {
    name: 'split', condition: { requests: 'any', method: null, path: '/login', pathMatch: 'exact', status: null },
    windowSeconds: 60, threshold: 6, key: 'ip', banSeconds: 120, mode: 'enforce', maxBansPerMinute: 3, ...over,
  };
}

const CASES: { name: string; rule: ThresholdRuleInput }[] = [
  { name: 'by IP, enforce', rule: draft({}) },
  { name: 'by IPv6 /64, enforce', rule: draft({ key: 'ip64', threshold: 5 }) },
  { name: 'by IP, monitor, status 401', rule: draft({ mode: 'monitor', condition: { requests: 'any', method: null, path: null, pathMatch: 'exact', status: 401 } }) },
  { name: 'by API key (else IP), monitor', rule: draft({ key: 'header:x-api-key', mode: 'monitor', threshold: 8 }) },
  { name: 'by API key (else IP), monitor, blocked requests only', rule: draft({ key: 'header:x-api-key', mode: 'monitor', threshold: 3, condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null } }) },
  { name: 'by IP, enforce, POST to /login prefix, one ban a minute', rule: draft({ maxBansPerMinute: 1, threshold: 3, condition: { requests: 'any', method: 'POST', path: '/login', pathMatch: 'prefix', status: null } }) },
];

async function run(input: ThresholdPreviewWorkerInput): Promise<{ scanned: number; result: ThresholdPreviewResult } | undefined> {
  let done: { scanned: number; result: ThresholdPreviewResult } | undefined;
  await scanThresholds(input, (message: ThresholdPreviewWorkerMessage) => {
    if (message.type === 'done') done = { scanned: message.scanned, result: message.result };
    if (message.type === 'failed') throw new Error(message.message);
  });
  return done;
}

async function onePassAndSplit(input: ThresholdPreviewWorkerInput): Promise<{ whole: ThresholdPreviewResult; split: ThresholdPreviewResult; scanned: number[] }> {
  const whole = (await run(input))!;
  const { port1, port2 } = new MessageChannel();
  const keyKind = input.rule.key === 'ip' || input.rule.key === 'ip64' ? undefined : input.rule.key;
  const [merged, sent] = await Promise.all([
    run({ ...input, half: { half: 0, keyKind }, peer: { role: 'merge', port: port1 } }),
    run({ ...input, half: { half: 1, keyKind }, peer: { role: 'send', port: port2 } }),
  ]);
  assert.equal(sent, undefined, 'the second part hands its counts over');
  return { whole: { ...whole.result, scanMs: 0 }, split: { ...merged!.result, scanMs: 0 }, scanned: [whole.scanned, merged!.scanned] };
}

describe('threshold preview split by key: the same figures as one pass', () => {
  let hub: TestHub;
  let siteId: number;
  let source: ReportScanSource;
  const COUNT = 6000;

  before(async () => {
    ({ hub, siteId } = await startHubWithSite('split'));
    await hub.store.insertReports(siteId, traffic(7, COUNT));
    source = hub.store.reportScanSource()!;
  });
  after(async () => { await hub.stop(); });

  const refusals = { cap: 0, rate: 0, allowListed: 0 };
  for (const c of CASES) {
    for (const maxActiveBans of [5, 1000]) {
      it(`${c.name}, cap ${maxActiveBans}: requests, matched, crossings, bans, refusals, blocked, top keys and examples equal one pass`, async () => {
        assert.equal(splittableByKey(c.rule), true);
        const input: ThresholdPreviewWorkerInput = {
          source, siteId, from: T0 - 10, to: T0 + 3600, pageSize: 700, rule: c.rule,
          options: { allowRanges: [tryParseRange('198.51.100.3')!], maxActiveBans, maxCounterKeys: 10_000 },
        };
        const { whole, split, scanned } = await onePassAndSplit(input);
        assert.deepEqual(scanned, [COUNT, COUNT], 'both read every report once');
        assert.ok(whole.crossings > 3 && whole.bans > 0, JSON.stringify(whole));
        assert.equal(whole.counterEvictions, 0, 'below the counters\' bound');
        assert.deepEqual(split, whole);
        refusals.cap += whole.refused.cap;
        refusals.rate += whole.refused.rate;
        refusals.allowListed += whole.refused.allowListed;
        if (c.rule.mode === 'enforce') assert.ok(whole.blockedAfterBan! > 0 && whole.newlyBlocked! > 0, 'bans blocked later requests');
      });
    }
  }

  it('the cases refused bans for each reason: the site\'s cap, the rule\'s rate and the allow list', () => {
    assert.ok(refusals.cap > 0 && refusals.rate > 0 && refusals.allowListed > 0, JSON.stringify(refusals));
  });

  it('drafts whose bans change what is counted or blocked across keys stay one pass', () => {
    assert.equal(splittableByKey(draft({ condition: { requests: 'blocked', method: null, path: null, pathMatch: 'exact', status: null } })), false);
    assert.equal(splittableByKey(draft({ key: 'header:x-api-key' })), false);
    assert.equal(splittableByKey(draft({ key: 'header:x-api-key', mode: 'monitor' })), true);
  });
});
