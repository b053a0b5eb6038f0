/**
 * What the overview and the IP page cost at a site's 10,000-rule cap, reading only the rules that may cover
 * what they show (HubStore.rulesFor) against reading every rule (listRules, as before schema 21): the same
 * hub alternates the two (rulesFor swapped for listRules) and times each page over HTTP on 127.0.0.1, and
 * each store call alone. SQLite in a temporary folder; then the two store calls alone on PostgreSQL (a
 * fresh database on the test cluster, support/postgres.ts).
 *
 *   node --import tsx packages/hub/test/support/rule-pages-measure.ts [--rounds 5] [--requests 20]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Rule } from 'moat-waf';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { coverageLookup } from '../../src/ui/rule-coverage.js';
import { record, startHubWithSite, upsyncBody } from './hub-fixture.js';
import { freshDatabase } from './postgres.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, requests: { type: 'string', default: '20' } } });
const ROUNDS = Number(args.rounds);
const REQUESTS = Number(args.requests);

const rules: Rule[] = Array.from({ length: 10_000 }, (_, i) => {
  const kind = (['ip', 'ip', 'path', 'userAgent', 'country'] as const)[i % 5]!;
  const value = kind === 'ip' ? (i % 10 === 0 ? `10.${(i >> 8) & 255}.${i & 255}.0/24` : `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`)
    : kind === 'path' ? `/blocked/${i}` : kind === 'userAgent' ? `scanner-${i}` : ['DE', 'FR', 'CN', 'RU', 'BR'][i % 5]!;
  return { id: `r${i}`, action: 'block', kind, value, mode: i % 7 === 0 ? 'monitor' : 'block' } as Rule;
});

const { hub, client, siteId, apiKey } = await startHubWithSite('rules cap');
try {
  await hub.store.saveRules(siteId, rules, { replace: false, now: 1 });
  const batch = Array.from({ length: 200 }, (_, i) => record({
    request_id: `q${i}`, ip: i % 3 === 0 ? `172.16.0.${i % 40}` : `203.0.113.${i % 10}`, path: `/page/${i % 10}`, user_agent: `agent-${i % 10}`,
  }));
  const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch)) });
  if (up.status !== 200) throw new Error(`upsync ${up.status}`);
  await hub.rollUpNow();

  const lookupOnly = hub.store.rulesFor.bind(hub.store);
  const everyRule = () => hub.store.listRules(siteId);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const timePage = async (path: string) => {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const start = performance.now();
      const response = await client.request(path);
      await response.text();
      if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
      times.push(performance.now() - start);
    }
    return median(times);
  };
  const lookup = coverageLookup([{ kind: 'ip', value: '172.16.0.1' }, { kind: 'path', value: '/page/1' }, { kind: 'userAgent', value: 'agent-1' }]);
  const timeCall = async (call: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const start = performance.now();
      await call();
      times.push(performance.now() - start);
    }
    return median(times);
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, read] of [['every rule', everyRule], ['rulesFor', lookupOnly]] as const) {
      hub.store.rulesFor = read as typeof hub.store.rulesFor;
      const overview = await timePage(`/sites/${siteId}?range=1h`);
      const ipPage = await timePage(`/sites/${siteId}/ips/172.16.0.1`);
      const call = await timeCall(() => read(siteId, lookup));
      console.log(`round ${round} ${label.padEnd(10)}: overview ${overview.toFixed(1)} ms, IP page ${ipPage.toFixed(1)} ms, store call alone ${call.toFixed(2)} ms (medians of ${REQUESTS})`);
    }
  }
} finally {
  await hub.stop();
}

const db = await freshDatabase('moat_rule_pages');
const pgStore = await PostgresStore.open(db.url, { max: 2 });
try {
  const site = await pgStore.createSite('rules cap');
  await pgStore.saveRules(site.id, rules, { replace: false, now: 1 });
  const lookup = coverageLookup([{ kind: 'ip', value: '172.16.0.1' }, { kind: 'path', value: '/page/1' }, { kind: 'userAgent', value: 'agent-1' }]);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [label, call] of [['every rule', () => pgStore.listRules(site.id)], ['rulesFor', () => pgStore.rulesFor(site.id, lookup)]] as const) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const start = performance.now();
        await call();
        times.push(performance.now() - start);
      }
      console.log(`PostgreSQL round ${round} ${label.padEnd(10)}: store call ${[...times].sort((a, b) => a - b)[Math.floor(REQUESTS / 2)]!.toFixed(2)} ms (median of ${REQUESTS})`);
    }
  }
} finally {
  await pgStore.close();
  await db.drop();
}
