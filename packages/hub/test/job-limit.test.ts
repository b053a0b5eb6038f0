import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { JobLimit } from '../src/workers/module-worker.js';

describe('JobLimit', () => {
  it('runs at most its limit at once, the rest in order, and frees a slot when a job fails', async () => {
    const limit = new JobLimit(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    let peak = 0;
    const jobs = [0, 1, 2, 3, 4].map((n) => limit.run(async () => {
      started.push(n);
      peak = Math.max(peak, limit.load.running);
      await new Promise<void>((resolve) => release.push(resolve));
      if (n === 1) throw new Error('job 1 failed');
      return n;
    }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(limit.load, { running: 2, waiting: 3 });
    release[1]!();
    await assert.rejects(jobs[1]!, /job 1 failed/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, [0, 1, 2], 'the failed job gave its slot to the next in line');
    for (let i = 0; i < 5; i++) {
      release.forEach((r) => r());
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await Promise.all([jobs[0], jobs[2], jobs[3], jobs[4]]), [0, 2, 3, 4]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(peak, 2);
    assert.deepEqual(limit.load, { running: 0, waiting: 0 });
  });
});
