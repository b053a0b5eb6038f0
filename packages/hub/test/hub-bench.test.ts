import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runHubBench } from '../../../bench/hub-bench.js';

// Proves the benchmark runs end to end at tiny sizes; speed itself is reported by the bench, not asserted.
describe('hub benchmark (quick)', () => {
  it('ingests through the real endpoint and times the dashboard queries', async () => {
    const result = await runHubBench({ quick: true, storedRecords: 20_000, batchSize: 500, postgresStoredRecords: 5_000 });
    assert.ok(result.ingest.httpRecordsPerSecond > 0 && Number.isFinite(result.ingest.httpRecordsPerSecond));
    assert.ok(result.ingest.directRecordsPerSecond > 0);
    assert.equal(result.queries.storedRecords, 20_000);
    for (const key of ['overviewMs', 'topListsMs', 'overviewPageMs', 'requestLogMs', 'rawScanTotalsMs'] as const) {
      assert.ok(result.queries[key] >= 0 && Number.isFinite(result.queries[key]), key);
    }
    // PostgreSQL rows when a cluster is already running (quick runs never start one), else the reason.
    if ('unavailable' in result.postgres) {
      assert.match(result.postgres.unavailable, /^PostgreSQL not available/);
    } else {
      assert.ok(result.postgres.ingest.httpRecordsPerSecond > 0 && result.postgres.ingest.directRecordsPerSecond > 0);
      for (const side of [result.postgres.queries, result.postgres.sqliteQueries]) {
        assert.equal(side.storedRecords, 5_000);
        assert.ok(side.reportsMiB > 0 && side.databaseMiB >= side.reportsMiB);
        for (const key of ['overviewMs', 'topListsMs', 'requestLogMs', 'requestLogFirstPageMs', 'requestLogPage20Ms'] as const) {
          assert.ok(side[key] >= 0 && Number.isFinite(side[key]), key);
        }
      }
    }
  });
});
