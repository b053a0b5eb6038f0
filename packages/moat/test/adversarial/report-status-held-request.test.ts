// A client that holds one request open while it sends 404 probes: managed mode matches a finished
// response to its record by identity when it is the request judged last (no property on the request,
// the usual case), and by a sequence number put on a request only when it is still running as the next
// one is judged. Each probe's 404 and the held request's own status must reach their own records, so the
// hub's status-based threshold rules see every probe. Real node:http and Express apps, a hub stand-in.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import express from 'express';
import { moat as expressMoat } from '../../src/adapters/express.js';
import { withMoat } from '../../src/adapters/node.js';
import { createManagedFirewall } from '../../src/managed/managed-firewall.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from '../helpers/fake-hub.js';

/** The reporting tags a request carries (symbols named by the status reporter). */
const tags = (req: IncomingMessage) => Object.getOwnPropertySymbols(req).filter((s) => s.description === 'moat.reportSeq').length;

for (const framework of ['node:http', 'express'] as const) {
  test(`${framework}: 404 probes sent while the same client holds another request open each reach the hub with status 404, the held one with its own status`, async () => {
    const hub = await new FakeHub().start();
    hub.serve('custom_rules', rulesBytes({ block: { paths: ['/wp-admin'] } }).body);
    hub.fault('data_subscriptions', { kind: 'status', status: 404 });
    const { dir, cleanup } = tempDir();
    const fw = createManagedFirewall({
      apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 60_000, longPollSeconds: 0,
      logger: false, env: {}, trustedProxies: [], upsync: { flushIntervalMs: 600_000 },
    });
    await fw.ready();
    const seen: Record<string, IncomingMessage> = {};
    const tagsAtHandler: Record<string, number> = {};
    let slow: { req: IncomingMessage; res: ServerResponse } | null = null;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const path = req.url ?? '/';
      seen[path] = req;
      tagsAtHandler[path] = tags(req);
      if (path === '/slow') {
        slow = { req, res }; // answered once /fast has been judged
        return;
      }
      res.statusCode = path === '/fast' ? 404 : 200;
      res.end('x');
    };
    let server: Server;
    if (framework === 'express') {
      const app = express();
      app.use(expressMoat(fw));
      app.use((req, res) => handler(req, res));
      server = createServer(app);
    } else {
      server = createServer(withMoat(handler, fw));
    }
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slowResponse = fetch(`${url}/slow`).then(async (r) => { await r.arrayBuffer(); return r.status; });
      await waitFor(() => slow !== null, 'the app to receive /slow');
      assert.equal(tagsAtHandler['/slow'], 0, 'the request judged last is known by identity: no property');
      for (let i = 0; i < 5; i++) {
        const probe = await fetch(`${url}/fast`);
        await probe.arrayBuffer();
        assert.equal(probe.status, 404);
        assert.equal(tagsAtHandler['/fast'], 0, 'each probe is the request judged last: no property');
      }
      assert.equal(tags(seen['/slow']!), 1, '/slow was still running when a probe was judged: it carries its number');
      slow!.res.statusCode = 201;
      slow!.res.end('x');
      assert.equal(await slowResponse, 201);
      const after = await fetch(`${url}/after`);
      await after.arrayBuffer();
      assert.equal(after.status, 200);
      assert.equal(tags(seen['/fast']!), 0, '/fast finished before /after was judged: never tagged');
      assert.equal(tags(seen['/after']!), 0);
      // Moat's own 403 goes through the same path.
      const blocked = await fetch(`${url}/wp-admin`);
      await blocked.arrayBuffer();
      assert.equal(blocked.status, 403);

      await fw.flushReports();
      const statusOf = (path: string) => hub.records().filter((r) => r.path === path).map((r) => r.status);
      assert.deepEqual(statusOf('/slow'), [201]);
      assert.deepEqual(statusOf('/fast'), [404, 404, 404, 404, 404], 'every probe, each with its 404 (non-2xx are never counted away)');
      assert.deepEqual(statusOf('/after'), [200]);
      assert.deepEqual(statusOf('/wp-admin'), [403]);
      const upsync = fw.status().upsync;
      assert.equal(upsync.statusMissing, 0);
      assert.equal(upsync.sent, upsync.recorded, 'nothing lost, nothing twice');
    } finally {
      server.closeAllConnections();
      server.close();
      await fw.close();
      cleanup();
      await hub.stop();
    }
  });
}
