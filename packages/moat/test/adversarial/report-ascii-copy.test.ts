// The serving thread copies ASCII strings into the report ring a byte per unit and falls back to a
// UTF-8 write at the first other unit. Attacks on that switch, against a real node:http app behind a
// managed firewall reporting every decision to a stand-in hub on 127.0.0.1: request ids and query
// parameters whose first non-ASCII character sits after long ASCII runs, at and around the length
// the byte copy handles (256), must reach the hub exactly, with nothing lost or shifted in the records
// that follow.
import assert from 'node:assert/strict';
import { createServer, request as rawRequest } from 'node:http';
import { test } from 'node:test';
import { withMoat } from '../../src/adapters/node.js';
import { createManagedFirewall } from '../../src/managed/managed-firewall.js';
import { FakeHub, rulesBytes, tempDir } from '../helpers/fake-hub.js';
import { serveApp } from '../helpers/served-app.js';

/** A GET with a header value sent as raw Latin-1 bytes (as Node reads them), through a real socket. */
function get(port: number, path: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = rawRequest({ host: '127.0.0.1', port, path, headers: { 'user-agent': 'attacker/1', 'x-request-id': requestId } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

test('request ids and parameters with a non-ASCII character after 0–300 ASCII characters reach the hub intact, each in its own record (node:http)', async () => {
  const hub = await new FakeHub().start();
  hub.serve('custom_rules', rulesBytes({ block: { paths: ['/wp-admin'], params: ['union select'] } }).body);
  hub.fault('data_subscriptions', { kind: 'status', status: 404 });
  const { dir, cleanup } = tempDir();
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000,
    logger: false, env: {}, upsync: { batchSize: 1000, flushIntervalMs: 600_000, reportPassed: 'all' },
  });
  await fw.ready();
  const app = await serveApp(createServer(withMoat((_req, res) => { res.end('ok'); }, fw)), fw, cleanup);
  try {
    const lengths = [0, 1, 200, 254, 255, 256, 257, 300];
    const sent: { id: string; param: string; path: string }[] = [];
    for (const n of lengths) {
      const ascii = 'x'.repeat(n);
      // Request ids are kept to 128 characters: the id's switch is tried up to there.
      const id = `${'x'.repeat(Math.min(n, 120))}\u00e9`; // one Latin-1 byte on the wire
      const path = n % 2 === 0 ? '/wp-admin/' : `/shop/${n}`;
      // `union select` then é, percent-encoded: the decoded parameters are not ASCII from there on.
      const query = `q=${'y'.repeat(n)}union%20select%C3%A9`;
      assert.equal(await get(app.port, `${path}?${query}`, id), 403, `blocked: ${path}?${query.slice(0, 40)}`);
      assert.equal(await get(app.port, `/ok/${n}?plain=${ascii}`, ascii === '' ? 'plain' : ascii.slice(0, 128)), 200);
      sent.push({ id, param: `q=${'y'.repeat(n)}union selecté`, path });
    }
    await fw.flushReports();
    const records = hub.records();
    assert.equal(records.length, 2 * lengths.length, 'one record per request');
    const st = fw.status().upsync;
    assert.equal(st.dropped, 0);
    for (const [i, want] of sent.entries()) {
      const blocked = records[2 * i]!;
      const passed = records[2 * i + 1]!;
      assert.equal(blocked.request_id, want.id, `request id after ${lengths[i]} ASCII characters`);
      assert.equal(blocked.treatment, 'Blocked');
      assert.equal(blocked.parameter, want.param, `parameters after ${lengths[i]} ASCII characters`);
      assert.equal(passed.path, `/ok/${lengths[i]}`, 'the next record is not shifted');
      assert.equal(passed.request_id, lengths[i] === 0 ? 'plain' : 'x'.repeat(Math.min(lengths[i]!, 128)));
      assert.equal(passed.parameter, `plain=${'x'.repeat(lengths[i]!)}`);
    }
  } finally {
    await app.stop();
    await hub.stop();
  }
});
