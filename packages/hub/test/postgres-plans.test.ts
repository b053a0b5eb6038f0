import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { ReportFilter } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

/**
 * The request log's statements on PostgreSQL, planned against a table big enough for the planner to
 * prefer scans (300 k reports, statistics collected): every statement the store sends while paging reads
 * the reports through an index — no sequential or parallel scan, no sort of the window. A statement
 * planned with a bound the planner cannot see (the rollup watermark as a subquery) once took a parallel
 * full scan per page: 400 ms at 1 M reports for a 1 ms answer.
 */
interface PlanNode { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] }

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('PostgreSQL request-log plans at 300 k reports', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  // On the hour: the store reads the log clock hour by clock hour, and the few minutes of an hour begun
  // just before a run are a slice so small (~1,600 reports here) that the planner fairly gathers and sorts
  // it (a CI run at 05:08 did), which this test would take for the plan of a window. Reports that end just
  // before the hour keep every statement's slice a whole hour, whatever the time of the run.
  const now = Math.floor(Date.now() / 3_600_000) * 3600;
  const sent: Array<{ text: string; values: unknown[] }> = [];

  before(async () => {
    db = await freshDatabase('moat_plans');
    store = await PostgresStore.open(db.url, { max: 2 });
    const site = await store.createSite('s');
    // Generated in the database: loading 300 k rows through the store would take the test's time for nothing.
    await store.pool.query(`INSERT INTO reports (site_id, ts, ip, method, host, path, parameter, user_agent, request_id, treatment, category, rule, rule_id)
      SELECT $1, $2 - 1 - (n::bigint * 86399 / 300000), '10.0.' || (n % 250) || '.' || (n % 199), 'GET', 'shop.example', '/p/' || (n % 900), '',
        'agent ' || (n % 40), 'r' || n, CASE WHEN n % 17 = 0 THEN 2 ELSE 0 END, CASE WHEN n % 17 = 0 THEN 'bp' ELSE 'passed' END,
        CASE WHEN n % 17 = 0 THEN '/wp-admin' ELSE '-' END, CASE WHEN n % 17 = 0 THEN 'b-wpadmin' END
      FROM generate_series(1, 300000) AS n`, [site.id, now]);
    // The rollups caught up, the dashboard's usual state (the IP filter consults them).
    while (await store.rollUp() > 0);
    await store.pool.query('ANALYZE');
    // Record what the store sends (the real pool still runs every statement).
    const query = store.pool.query.bind(store.pool) as (text: string, values?: unknown[]) => Promise<unknown>;
    (store.pool as unknown as { query: typeof query }).query = (text: string, values?: unknown[]) => {
      if (typeof text === 'string' && /\breports\b/.test(text)) sent.push({ text, values: values ?? [] });
      return query(text, values);
    };
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  // Orders that an index serves must not sort. For a filter no index covers (treatment, rule), the planner may
  // fairly choose to gather the few matching rows of the window and sort them, depending on its statistics.
  const cases: Array<[string, ReportFilter, boolean]> = [
    ['newest first, no filter', {}, true],
    ['Blocked only', { treatment: 'Blocked' }, false],
    ['one IP', { ip: '10.0.7.7' }, true],
    ['a rule id', { rule: 'b-wpadmin' }, false],
    ['a time window 6 h ago', { from: now - 6 * 3600, to: now - 5 * 3600 }, true],
  ];
  for (const [name, filter, indexOrdered] of cases) {
    it(`request log, ${name}: first and third page read reports through an index, no scan, no parallel plan${indexOrdered ? ', no sort' : ''}`, async () => {
      sent.length = 0;
      let before: string | undefined;
      for (let page = 0; page < 3; page++) {
        let result = await store.queryReports(1, filter, { limit: 50, before });
        // A page that ran out of its time budget (a loaded machine) ends early and says where to go on.
        for (let more = 0; result.rows.length === 0 && result.partial && result.next && more < 1000; more++) {
          result = await store.queryReports(1, filter, { limit: 50, before: result.next });
        }
        assert.ok(result.rows.length > 0, 'the filter finds reports');
        before = result.next ?? undefined;
        if (!before) break;
      }
      const statements = sent.splice(0);
      assert.ok(statements.length > 0);
      for (const { text, values } of statements) {
        const { rows } = await store.pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
        const plan = nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
        // A scan of an empty partition (tomorrow's, the default) costs nothing and is what the planner picks for it.
        const scanned = plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name']?.startsWith('reports')).map((n) => n['Relation Name']!);
        const withData = (await store.pool.query<{ relname: string }>(
          'SELECT relname FROM pg_class WHERE relname = ANY($1::text[]) AND relpages > 0', [scanned])).rows.map((r) => r.relname);
        assert.deepEqual(withData, [], `sequential scan of reports in: ${text}`);
        assert.ok(!plan.some((n) => n['Node Type'].startsWith('Gather')), `parallel plan for: ${text}`);
        if (indexOrdered) assert.ok(!plan.some((n) => /Sort$/.test(n['Node Type'])), `sort in: ${text}`);
      }
    });
  }
});
