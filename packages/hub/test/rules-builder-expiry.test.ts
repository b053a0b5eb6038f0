// A rule expiring while its site's files are being written: the compile judged it live, so the Wafris
// file holds it (Wafris clients have no expiry of their own). The expiry window must start where the
// compile judged, so rebuildExpired() rebuilds it out and the expiry is audited exactly once, then.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RulesBuilder } from '../src/distribution/rules-builder.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { StoredRule } from '../src/store/store.js';

/** A whole second, so every instant below is exact. */
const START = 1_700_000_000_000;

describe('rules builder: the expiry window starts at the compile', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'moat-builder-expiry-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('a rule expiring between the compile and the placing of its files is rebuilt out by rebuildExpired and audited once', async () => {
    const store = SqliteStore.open(join(scratch, 'hub.db'));
    // A clock that moves 2 s at every reading (whole seconds throughout): whatever the builder reads after
    // the compile's instant (placing the files, saving the build) is later than a rule expiring 0.7 s after it.
    let clock = START;
    const now = () => {
      const reading = clock;
      clock += 2_000;
      return reading;
    };
    const builder = new RulesBuilder(store, join(scratch, 'rules'), now);
    const expiries: string[][] = [];
    builder.onExpired(async (_siteId, rules: StoredRule[]) => { expiries.push(rules.map((r) => r.id)); });
    try {
      const site = await store.createSite('expiring');
      await store.saveRules(site.id, [{ id: 'stays', action: 'block', kind: 'path', value: '/stays', mode: 'block' }], { replace: false, now: 1 });
      await builder.rebuild(site.id);

      // Expires 0.7 s after the next compile's instant: live when compiled, expired when the files are placed.
      const compileAt = clock;
      await store.saveRules(site.id, [{ id: 'soon', action: 'block', kind: 'path', value: '/soon', mode: 'block', expires: compileAt + 700 }], { replace: false, now: 1 });
      const built = await builder.rebuild(site.id);
      assert.equal(built.wafris.ruleCount, 2, 'the compile judged "soon" live: the Wafris file holds it');
      assert.deepEqual(expiries, [], 'so its expiry is not taken as seen by this build');

      assert.equal(await builder.rebuildExpired(), 1, 'the maintenance pass finds the Wafris file holding an expired rule');
      const rebuilt = await store.getBuild(site.id, 'wafris');
      assert.equal(rebuilt?.ruleCount, 1, 'and rebuilds it out');
      assert.deepEqual(expiries, [['soon']], 'audited at the build that took it out');

      assert.equal(await builder.rebuildExpired(), 0, 'nothing left to rebuild');
      await builder.rebuild(site.id);
      assert.deepEqual(expiries, [['soon']], 'audited exactly once, not at a later build');
    } finally {
      await builder.idle();
      await store.close();
    }
  });
});
