// A response that finishes before the next request is judged has its status carried by the next ring entry,
// or, for the newest record, by the ring's LAST_STATUS words (report/ring-writer.ts, holdStatus), instead of
// a status entry of its own. An attacker probing for what the hub's status-based threshold rules count
// (401s, 404s) hides them in a flood: every other response a 404, the very last one a 404 followed by
// silence, and one slow 401 that is still running while the flood goes on (its status comes after later
// records, so it takes a status entry). Each 404 and the 401 must reach the hub in full with its status,
// none may be counted as a Passed 200, and the flood's totals must stay exact. Real managed firewall, real
// node:http app on 127.0.0.1, a stand-in hub.
import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { withMoat } from '../../src/adapters/node.js';
import { createManagedFirewall, type ManagedFirewall } from '../../src/managed/managed-firewall.js';
import { ENTRY_STATUS } from '../../src/report/ring-layout.js';
import { hubWithWpAdminRules, tempDir, waitFor } from '../helpers/fake-hub.js';
import { ringEntries } from '../helpers/ring-entries.js';

test('GET flood on node:http answering every other request 404, ending on a 404 before silence, with a slow 401 held open across it: every 404 and the 401 reach the hub in full with their status, the 200s\' totals are exact', async () => {
  const hub = await hubWithWpAdminRules();
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, backoffBaseMs: 10, backoffMaxMs: 40,
    logger: false, env: {}, upsync: { batchSize: 1000, flushIntervalMs: 600_000, flushBlockedMs: 600_000, passedSamplesPerSecond: 0 },
  });
  await fw.ready();
  let releaseSlow = () => {};
  const slowHeld = new Promise<void>((resolve) => { releaseSlow = resolve; });
  const server = createServer(withMoat((req, res) => {
    if (req.url === '/login') {
      void slowHeld.then(() => { res.statusCode = 401; res.end('no'); });
      return;
    }
    res.statusCode = req.headers['x-missing'] ? 404 : 200;
    res.end('ok');
  }, fw));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const get = (path: string, headers: Record<string, string> = {}) => new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { 'user-agent': 'flood/1', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  try {
    const slow = get('/login');
    const flood = 300;
    for (let i = 0; i < flood; i++) {
      const missing = i % 2 === 1;
      assert.equal(await get('/same?q=1', missing ? { 'x-missing': '1' } : {}), missing ? 404 : 200);
      if (i === 100) releaseSlow();
    }
    assert.equal(await slow, 401);
    // The last response's finish may run just after the client read it: flush until its record is there.
    const arrived = () => hub.requestsReported() === flood + 1 && hub.records().filter((r) => r.status === 404).length === flood / 2;
    for (let tries = 0; tries < 100 && !arrived(); tries++) {
      await fw.flushReports();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(arrived, 'every request reported, every 404 with its status');
    const records = hub.records();
    const missing = records.filter((r) => r.status === 404);
    assert.equal(missing.length, flood / 2, 'each 404 in full, none counted');
    assert.ok(missing.every((r) => r.path === '/same' && r.ip === '127.0.0.1' && r.user_agent === 'flood/1'));
    assert.deepEqual(records.filter((r) => r.path === '/login').map((r) => r.status), [401], 'the slow 401, with its status');
    assert.ok(records.every((r) => typeof r.status === 'number'), 'no record went without its status');
    const counts = hub.passedCounts();
    const fullOk = records.filter((r) => r.status === 200).length;
    assert.equal(counts.reduce((sum, c) => sum + c.count, 0) + fullOk, flood / 2, 'the 200s: counted or in full, exactly');
    const st = fw.status().upsync;
    assert.deepEqual([st.recorded, st.sent, st.dropped, st.statusMissing], [flood + 1, flood + 1, 0, 0]);
    // The fold was taken: at most the slow 401 (finished after later records) and a finish that came late needed an entry of their own.
    assert.ok(ringEntries(fw, ENTRY_STATUS) <= 3, `${ringEntries(fw, ENTRY_STATUS)} status entries for ${flood + 1} responses`);
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fw.close();
    cleanup();
    await hub.stop();
  }
});
