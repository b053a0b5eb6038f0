// Ban housekeeping on a real hub with a test clock: ended bans stay listed for banHistoryDays (the
// Thresholds page's history), then are deleted, so a scanner rotating addresses cannot grow the store
// forever; a standing ban is never pruned and stays in the rules file.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { createThreshold, report, wafrisBlocks } from './support/thresholds-kit.js';

const DAY = 86_400_000;

describe('ban housekeeping', () => {
  it('keeps ended bans listed for 7 days, then deletes them (and old events); a standing ban stays', async () => {
    let clock = Date.now();
    const { hub, client, siteId, apiKey } = await startHubWithSite('housekeeping', { now: () => clock });
    try {
      await createThreshold(client, siteId, { threshold: 2, banSeconds: 2 * 86_400 });
      const bans = () => hub.context.thresholds.listBans(siteId, 'enforce', false);
      for (const ip of ['198.51.100.1', '198.51.100.2']) assert.equal((await report(hub.url, apiKey, ip, 2)).status, 200);
      await hub.context.thresholds.idle();
      const [second, first] = await bans();
      assert.deepEqual([first!.key, second!.key], ['198.51.100.1', '198.51.100.2']);
      await hub.context.thresholds.liftBan(siteId, first!.id, { userId: null, email: 'test', ip: null }); // ended now
      await hub.store.thresholds.appendThresholdEvent({ siteId, ruleId: null, at: Math.floor(clock / 1000), kind: 'ban_rate', detail: 'refused' });

      clock += 2 * DAY + 1000; // the second expired too
      assert.deepEqual(await hub.context.thresholds.housekeep(), { bans: 0, events: 0, counts: 0 }, 'history is kept for a while');
      assert.equal((await bans()).length, 2, 'ended bans still listed');

      // A scanner from a new address days later: its ban stands when the first two pass the history.
      clock += 6 * DAY;
      assert.equal((await report(hub.url, apiKey, '198.51.100.3', 2)).status, 200);
      await hub.context.thresholds.idle();
      clock += DAY + 1000;
      assert.deepEqual(await hub.context.thresholds.housekeep(), { bans: 2, events: 1, counts: 0 });
      assert.deepEqual((await bans()).map((b) => b.key), ['198.51.100.3']);
      assert.deepEqual(await hub.store.thresholds.listThresholdEvents(siteId, 10), []);
      assert.equal(hub.context.thresholds.stats().prunedBans, 2);
      await hub.context.builder.rebuild(siteId);
      assert.deepEqual((await wafrisBlocks(hub, siteId)).ips, ['198.51.100.3'], 'the standing ban is still enforced');
    } finally {
      await hub.stop();
    }
  });
});
