// A ban is pushed, not polled: a Moat client holding a long-poll downsync gets the rules file with the
// new ban as soon as the hub stores it (its held request is woken), not when the hold times out. This is
// the hub's part of "threshold crossed on one app → 403 on another" (bench/ban-latency-bench.ts); what is
// left is the client's report interval.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { longPoll, waitUntil } from './support/long-poll-client.js';
import { createThreshold, report, wafrisBlocks } from './support/thresholds-kit.js';

describe('auto-ban push', () => {
  it('a scanner crossing the threshold wakes a held downsync with the file that bans it (not a timeout)', async () => {
    const { hub, client, siteId, apiKey } = await startHubWithSite('push');
    try {
      await createThreshold(client, siteId, { threshold: 5 });
      const before = (await hub.context.builder.current(siteId, 'moat')).fileName;
      // The client holds for up to 25 s; had the ban not woken it, the answer would be a 304 then.
      const held = longPoll(hub.url, apiKey, { clientDb: before, wait: '25' });
      await waitUntil(() => hub.context.waiters.stats().waiting === 1, 'the downsync to be held');

      const scanner = '203.0.113.90';
      assert.equal((await report(hub.url, apiKey, scanner, 5)).status, 200);
      const answer = await held;
      assert.equal(answer.status, 200);
      assert.notEqual(answer.fileName, before, 'a new rules file');
      assert.equal(answer.fileName, (await hub.context.builder.current(siteId, 'moat')).fileName, 'the current one, with the ban');
      assert.ok(answer.bytes > 0);
      const waiters = hub.context.waiters.stats();
      assert.equal(waiters.woken, 1, 'the ban woke the held request');
      assert.equal(waiters.timedOut, 0);
      assert.deepEqual((await wafrisBlocks(hub, siteId)).ips, [scanner], 'the served rules block the scanner');
    } finally {
      await hub.stop();
    }
  });
});

