// Attacks on data-file updates: a hub, or a man in the middle, delivering a data file built to be
// expensive (millions of tiny ranges, a huge label table, label lists that are JSON bombs, labels that
// do not exist). Each is loaded off the serving thread or refused there, never half-installed; the
// real node:http app keeps answering throughout (counted by a concurrent client while the load runs,
// not timed), and a refused file leaves the old engine serving with the error in status().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offThreadLoadCounts } from '../../src/loading/load-off-thread.js';
import { FakeHub, rulesBytes, waitFor } from '../helpers/fake-hub.js';
import { craftedData, swapApp, tinyRanges, TOR_RULES, torData, type SwapApp } from '../helpers/data-swap-kit.js';

const A = '203.0.113.5'; // in the tor list of the file in force before each attack

async function startWithGoodFile(options: { signing?: boolean } = {}): Promise<{ hub: FakeHub; app: SwapApp; publicKey?: string }> {
  const hub = await new FakeHub().start();
  const publicKey = options.signing ? hub.enableSigning().raw : undefined;
  hub.serve('custom_rules', rulesBytes(TOR_RULES).body);
  hub.serve('data_subscriptions', torData(['203.0.113.0/24']), 'good.db');
  const app = await swapApp(hub, publicKey === undefined ? {} : { publicKey });
  await waitFor(() => app.fw.status().dataSubscriptions.file?.servedName === 'good.db', 'the good data file installed');
  assert.equal(await app.get(A), 403);
  return { hub, app, publicKey };
}

/**
 * Requests from a concurrent client until `done()`; returns how many were answered while a load was
 * running in the worker. Every answer must be one a complete file gives (200 or 403).
 */
async function hammerUntil(app: SwapApp, done: () => boolean): Promise<{ duringLoad: number; total: number }> {
  let duringLoad = 0;
  let total = 0;
  while (!done()) {
    const status = await app.get(total % 2 === 0 ? A : '10.0.0.2');
    assert.ok(status === 200 || status === 403, `answered ${status}`);
    total++;
    if (offThreadLoadCounts.inProgress > 0) duringLoad++;
  }
  return { duringLoad, total };
}

const installed = (app: SwapApp, name: string) => () => app.fw.status().dataSubscriptions.file?.servedName === name;

test('a data file of 2,000,000 one-address ranges is loaded off the serving thread: the app answers throughout and the new ranges apply after the swap', async () => {
  const { hub, app } = await startWithGoodFile();
  try {
    hub.serve('data_subscriptions', craftedData(tinyRanges(2_000_000), ['["tor"]']), 'tiny.db');
    const { duringLoad } = await hammerUntil(app, installed(app, 'tiny.db'));
    assert.ok(duringLoad > 0, 'requests answered while the worker loaded the file');
    assert.equal(await app.get(A), 200, 'the old ranges are gone');
    assert.equal(await app.get('10.0.0.0'), 403);
    assert.equal(await app.get('10.0.0.1'), 200, 'the gaps between tiny ranges stay gaps');
    assert.equal(await app.get('10.61.8.254'), 403, 'the last range, 3,999,998 above 10.0.0.0');
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('a data file with 200,000 labels (each its own list) is loaded off the serving thread, its labels parsed a slice at a time', async () => {
  const { hub, app } = await startWithGoodFile();
  try {
    const labels = 200_000;
    const lists = Array.from({ length: labels }, (_, i) => (i === 0 ? '["tor"]' : `["list-${i}"]`));
    hub.serve('data_subscriptions', craftedData(tinyRanges(labels, labels), lists), 'labels.db');
    const { duringLoad } = await hammerUntil(app, installed(app, 'labels.db'));
    assert.ok(duringLoad > 0, 'requests answered while the worker loaded the file');
    assert.equal(await app.get('10.0.0.0'), 403, 'label 0 is the tor list');
    assert.equal(await app.get('10.0.0.2'), 200, 'label 1 is another list');
    assert.equal(await app.get(A), 200);
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('label lists that are JSON bombs (100,000-deep nesting, a million names, objects) or labels that do not exist are refused; the old engine keeps serving', async () => {
  const { hub, app } = await startWithGoodFile();
  const status = () => app.fw.status().dataSubscriptions;
  try {
    const bombs: { name: string; file: Buffer; message: RegExp }[] = [
      { name: 'deep', file: craftedData(tinyRanges(1000), ['['.repeat(100_000) + ']'.repeat(100_000)]), message: /lists are not an array of at most|call stack/ },
      {
        name: 'million', file: craftedData(tinyRanges(1000), [JSON.stringify(Array.from({ length: 1_000_000 }, (_, i) => `n${i}`))]),
        message: /lists are not an array of at most 4096 names/,
      },
      { name: 'objects', file: craftedData(tinyRanges(1000), ['[{"toString":1}]']), message: /lists are not an array/ },
      { name: 'not json', file: craftedData(tinyRanges(1000), ['[tor']), message: /JSON|Unexpected|Expected/ },
      // Ranges labelled 0..2 with a single label: a lookup would read past the label table.
      { name: 'missing labels', file: craftedData(tinyRanges(3000, 3), ['["tor"]']), message: /ranges refer to a missing label/ },
    ];
    for (const bomb of bombs) {
      const errors = status().errors;
      hub.serve('data_subscriptions', bomb.file, `${bomb.name}.db`);
      let answered = 0;
      // Waits for the loader's verdict (a dropped connection on the way is only retried).
      while (status().lastErrorReason !== 'rejected' && status().file?.servedName === 'good.db') {
        assert.equal(await app.get(A), 403, `${bomb.name}: the old data file still blocks`);
        answered++;
      }
      assert.ok(status().errors > errors, `${bomb.name}: counted`);
      assert.match(status().lastError ?? '', bomb.message, bomb.name);
      assert.equal(status().file?.servedName, 'good.db', `${bomb.name}: nothing installed`);
      assert.ok(answered > 0, `${bomb.name}: the app answered while the file was checked`);
      assert.equal(await app.get('10.0.0.0'), 200, `${bomb.name}: none of the file's ranges apply`);
      hub.serve('data_subscriptions', torData(['203.0.113.0/24']), 'good.db'); // back to the file in force: 304s, no error
      await waitFor(() => status().lastError === null, 'a clean poll');
    }
  } finally {
    await app.stop();
    await hub.stop();
  }
});

test('a man in the middle without the signing key delivers 2,000,000 ranges: the worker refuses the signature before loading; the old engine keeps serving', async () => {
  const { hub, app } = await startWithGoodFile({ signing: true });
  const status = () => app.fw.status().dataSubscriptions;
  try {
    const errors = status().errors;
    hub.fault('data_subscriptions', { kind: 'bad-signature' });
    hub.serve('data_subscriptions', craftedData(tinyRanges(2_000_000), ['["tor"]']), 'forged.db');
    await hammerUntil(app, () => status().lastErrorReason === 'bad-signature' || status().file?.servedName !== 'good.db');
    assert.ok(status().errors > errors, 'counted');
    assert.equal(status().file?.servedName, 'good.db');
    assert.equal(await app.get(A), 403, 'the old data file still blocks');
    assert.equal(await app.get('10.0.0.0'), 200, 'none of the forged ranges apply');
  } finally {
    await app.stop();
    await hub.stop();
  }
});
