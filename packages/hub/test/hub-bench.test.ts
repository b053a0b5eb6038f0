import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runHubBench } from '../../../bench/hub-bench.js';

// Proves the benchmark runs end to end at tiny sizes; speed itself is reported by the bench, not asserted.
describe('hub benchmark (quick)', () => {
  it('ingests through the real endpoint and times the dashboard queries', async () => {
    const result = await runHubBench({ quick: true, storedRecords: 20_000, batchSize: 500 });
    assert.ok(result.ingest.httpRecordsPerSecond > 0 && Number.isFinite(result.ingest.httpRecordsPerSecond));
    assert.ok(result.ingest.directRecordsPerSecond > 0);
    assert.equal(result.queries.storedRecords, 20_000);
    for (const key of ['overviewMs', 'topListsMs', 'overviewPageMs', 'requestLogMs', 'rawScanTotalsMs'] as const) {
      assert.ok(result.queries[key] >= 0 && Number.isFinite(result.queries[key]), key);
    }
  });
});
