// Rules files updated while serving: a big rules file is compiled (substring automata, IP indexes) in
// the load worker and moved to the serving thread. The moved rule set must decide exactly as the same
// file compiled on the serving thread, and a managed app must keep answering while it compiles.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MoatRequest } from '../src/engine/decision.js';
import { Engine } from '../src/engine/engine.js';
import { loadDataFile, loadRulesFile } from '../src/format/load-files.js';
import { loadRulesOffThread, offThreadLoadCounts, RULES_OFF_THREAD_MIN_BYTES } from '../src/loading/load-off-thread.js';
import { parseRange } from '../src/ip/range.js';
import { dataBytes, FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';
import { swapApp } from './helpers/data-swap-kit.js';

/** A rules document with every kind of rule, `n` path and `n` user-agent patterns among them. */
function bigRules(n: number, tag: string) {
  const words = Array.from({ length: n }, (_, i) => `${tag}${i.toString(36)}x`);
  return {
    allow: { ips: ['10.1.2.3', '10.9.0.0/16'] },
    block: {
      ips: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1-192.0.2.9', ...Array.from({ length: 200 }, (_, i) => `198.18.${i}.0/24`)],
      countries: ['KP'], lists: ['tor'],
      paths: words.map((w) => `/${w}`), userAgents: words.map((w) => `agent-${w}`),
      params: ['<script', 'union select'], hosts: ['admin.example.com', 'Internal.Example'], methods: ['TRACE'],
    },
    rateLimits: [{ path: '/login', method: 'POST', limit: 3, window: '60s' }, { path: '/api/*', limit: 5, window: '60s' }],
  };
}

function requests(n: number): MoatRequest[] {
  const out: MoatRequest[] = [];
  const ips = ['10.1.2.3', '10.9.1.1', '10.2.2.2', '2001:db8::5', '192.0.2.5', '198.18.7.9', '203.0.113.9', '8.8.8.8', '::ffff:10.0.0.1'];
  // Every combination of the choices below (9 × 3 × 3 × 5 × 3 × 3 = 3645), the rest repeating.
  for (let i = 0; i < n; i++) {
    const j = Math.floor(i / ips.length);
    out.push({
      ip: ips[i % ips.length],
      method: ['GET', 'POST', 'TRACE'][j % 3],
      host: ['www.example.com', 'ADMIN.example.com', 'internal.example'][Math.floor(j / 3) % 3],
      path: [`/big${(i * 7).toString(36)}x/page`, '/login', '/api/items', '/products/42', `/xx/BIG${i.toString(36)}X`][Math.floor(j / 9) % 5],
      userAgent: [`Mozilla agent-big${(i * 3).toString(36)}x`, 'curl/8', 'sqlmap'][Math.floor(j / 45) % 3],
      params: ['q=1', 'q=<SCRIPT>', 'id=1 UNION SELECT 2'][Math.floor(j / 135) % 3],
    });
  }
  return out;
}

test('a rules file compiled in the load worker decides exactly as the same file compiled on the serving thread', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'rules.db');
    writeFileSync(path, rulesBytes(bigRules(3000, 'big')).body);
    const dataPath = join(dir, 'data.db');
    writeFileSync(dataPath, dataBytes({
      lists: [{ name: 'tor', ranges: [parseRange('203.0.113.0/24')], summary: { name: 'tor', kind: 'list', ranges: 1, invalidLines: 0 } }],
    }));
    const workers = offThreadLoadCounts.worker;
    const moved = await loadRulesOffThread({ path, verify: null });
    assert.equal(offThreadLoadCounts.worker, workers + 1, 'compiled in the worker');
    const here = loadRulesFile(path);
    assert.deepEqual(moved.rules, here.rules);
    assert.deepEqual(moved.singleIp, here.singleIp);
    assert.equal(moved.info.hash, here.info.hash);
    const clock = () => 1_000_000;
    const a = new Engine({ rules: moved, data: loadDataFile(dataPath), now: clock });
    const b = new Engine({ rules: here, data: loadDataFile(dataPath), now: clock });
    const treatments = new Set<string>();
    for (const request of requests(5000)) {
      const x = a.evaluate(request);
      const y = b.evaluate(request);
      assert.deepEqual({ ...x, monitored: [...x.monitored] }, { ...y, monitored: [...y.monitored] }, JSON.stringify(request));
      treatments.add(`${x.treatment}:${x.category}`);
    }
    // The requests reach every kind of rule, so every moved part was used.
    for (const c of ['Allowed:ac', 'Allowed:ai', 'Blocked:bc', 'Blocked:bu', 'Blocked:bp', 'Blocked:bparam', 'Blocked:bh', 'Blocked:bm', 'Blocked:brl', 'Passed:passed']) {
      assert.ok(treatments.has(c), `some request got ${c}: ${[...treatments].join(' ')}`);
    }
  } finally {
    cleanup();
  }
});

test('a managed app keeps answering while a 10 k + 10 k pattern rules file compiles in the worker; the new rules apply after the swap', async () => {
  const hub = await new FakeHub().start();
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/old-rule'] } }).body, 'old.db');
  const app = await swapApp(hub, { customRulesIntervalMs: 50 });
  const rules = () => app.fw.status().customRules;
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${app.port}${path}`)).status;
  try {
    await waitFor(() => rules().file?.servedName === 'old.db', 'the first rules installed');
    assert.equal(await get('/old-rule'), 403);
    const big = rulesBytes(bigRules(10_000, 'new')).body;
    assert.ok(big.length >= RULES_OFF_THREAD_MIN_BYTES);
    const workers = offThreadLoadCounts.worker;
    let answeredDuringLoad = 0;
    let hammering = true;
    const client = (async () => {
      while (hammering) {
        assert.equal(await get('/products/1'), 200);
        if (offThreadLoadCounts.inProgress > 0) answeredDuringLoad++;
      }
    })();
    hub.serve('custom_rules', big, 'big.db');
    await waitFor(() => rules().file?.servedName === 'big.db', 'the big rules installed');
    hammering = false;
    await client;
    assert.equal(offThreadLoadCounts.worker, workers + 1, 'compiled in the worker');
    assert.ok(answeredDuringLoad > 0, 'the app answered while the rules compiled');
    assert.equal(await get('/old-rule'), 200);
    assert.equal(await get(`/new${(9999).toString(36)}x`), 403);
  } finally {
    await app.stop();
    await hub.stop();
  }
});
