// Rules changing every 100 ms under load: a real node:http app behind the managed firewall answers a
// bounded stream of concurrent requests while the fake hub publishes a new rules file every 100 ms.
// No request may fail, and every decision must be exactly what one complete file decides (checked
// against an engine opened on that very file).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { withMoat } from '../src/adapters/node.js';
import { Engine } from '../src/engine/engine.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { FakeHub, rulesBytes, tempDir } from './helpers/fake-hub.js';

const VERSIONS = 15;
const WORKERS = 8;
const MAX_REQUESTS = 3000;

function versionRules(k: number) {
  return { block: { paths: [`/v${k}/`], userAgents: [`bot-${k}`], params: [`p${k}=`] } };
}

test('rules swapped every 100 ms under load: zero failed requests, each decision from one complete file', async (t) => {
  const hub = await new FakeHub().start();
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  const files = tempDir();
  const { dir, cleanup } = tempDir();
  const oracles = new Map<string, Engine>();
  const publish = (k: number) => {
    const built = rulesBytes(versionRules(k));
    const path = join(files.dir, `v${k}.db`);
    writeFileSync(path, built.body);
    oracles.set(built.hash, Engine.open({ rules: path }));
    hub.serve('custom_rules', built.body, `v${k}.db`);
  };
  publish(0);
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, customRulesIntervalMs: 15, watchIntervalMs: 10, jitter: 0.2,
    backoffBaseMs: 10, backoffMaxMs: 50, logger: false, env: {}, upsync: false,
  });
  const seen: { hash: string; request: { ip: string; method: string; path: string; userAgent?: string; params?: string }; got: string }[] = [];
  fw.addDecisionListener((decision, request) => {
    // Evaluation is synchronous: the engine in place now is the one that decided.
    const hash = (fw.currentEngine as Engine).rules.info.hash;
    seen.push({
      hash, got: `${decision.treatment}|${decision.category}|${decision.rule}`,
      request: { ip: request.ip, method: request.method, path: request.path, userAgent: request.userAgent, params: request.params },
    });
  });
  const server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  try {
    await fw.ready();
    let current = 0;
    let publishing = true;
    const publisher = (async () => {
      for (let k = 1; k < VERSIONS; k++) {
        await new Promise((r) => setTimeout(r, 100));
        publish(k);
        current = k;
      }
      await new Promise((r) => setTimeout(r, 100));
      publishing = false;
    })();
    let sent = 0;
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const worker = async (w: number) => {
      while (publishing && sent < MAX_REQUESTS) {
        const i = sent++;
        const j = Math.max(0, current - 1 + (i % 3));
        const path = i % 4 === 0 ? `/v${j}/page` : `/other/${i}`;
        const ua = i % 4 === 1 ? `bot-${j}` : 'browser';
        const query = i % 4 === 2 ? `?p${j}=1` : '';
        try {
          const res = await fetch(`http://127.0.0.1:${port}${path}${query}`, { headers: { 'user-agent': ua, 'x-worker': String(w) } });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status !== 200 && res.status !== 403) failures.push(`${path}: ${res.status}`);
        } catch (error) {
          failures.push(`${path}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all([publisher, ...Array.from({ length: WORKERS }, (_, w) => worker(w))]);

    assert.deepEqual(failures, [], 'zero failed requests');
    const stats = fw.stats();
    assert.equal(stats.engineErrors, 0);
    assert.equal(stats.noEngine, 0);
    assert.equal(seen.length, sent, 'every request was judged');
    assert.ok((statuses.get(403) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, `both outcomes: ${JSON.stringify([...statuses])}`);
    const versionsUsed = new Set(seen.map((s) => s.hash));
    assert.ok(versionsUsed.size >= 3, `decisions came from ${versionsUsed.size} versions`);
    let mismatches = 0;
    for (const s of seen) {
      const oracle = oracles.get(s.hash);
      assert.ok(oracle, 'the deciding engine ran a file the hub published');
      const d = oracle.evaluate(s.request);
      if (`${d.treatment}|${d.category}|${d.rule}` !== s.got) mismatches++;
    }
    assert.equal(mismatches, 0, 'each decision is what one complete file decides');
    assert.ok(fw.status().customRules.downloads >= 3);
    assert.equal(fw.status().customRules.errors, 0, fw.status().customRules.lastError ?? '');
    t.diagnostic(`${sent} requests, ${fw.status().customRules.downloads} downloads, decisions from ${versionsUsed.size} file versions`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fw.close();
    for (const engine of oracles.values()) engine.close();
    await hub.stop();
    cleanup();
    files.cleanup();
  }
});
