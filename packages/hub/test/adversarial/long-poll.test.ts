// Attacks on the long-poll downsync: holding requests without a valid key, holding more than a fair
// share, odd wait values, and connections that stop reading or vanish. Each runs against a real hub on
// 127.0.0.1 with real sockets.
import { strict as assert } from 'node:assert';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestHub, type TestHub } from '../support/hub-fixture.js';
import { longPoll, waitUntil } from '../support/long-poll-client.js';

function connections(hub: TestHub): Promise<number> {
  return new Promise((resolve, reject) => hub.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** A raw socket that sends one held downsync and then never reads. */
function silentWaiter(hub: TestHub, path: string): Promise<Socket> {
  const { hostname, port } = new URL(hub.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n\r\n`);
      socket.pause(); // reads nothing from here on
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('long-poll downsync under attack', () => {
  let hub: TestHub;
  let apiKey: string;
  let clientDb: string;
  before(async () => {
    hub = await startTestHub({ createDemoSite: true, longPoll: { timeoutMs: 1500, maxWaiters: 5000, maxWaitersPerKey: 50 } });
    apiKey = hub.firstRun.demoApiKey!;
    clientDb = (await hub.context.builder.current(hub.firstRun.demoSiteId!, 'moat')).fileName;
  });
  after(async () => {
    await hub?.stop();
  });

  it('GET /v2/downsync/custom_rules/<unknown key>?wait=25 is refused with 401 before anything is held', async () => {
    const before = hub.context.waiters.stats().held;
    for (const key of ['not-a-key', 'x'.repeat(300), `${apiKey}x`]) {
      const answer = await longPoll(hub.url, key, { clientDb, wait: '25' });
      assert.equal(answer.status, 401, `key of ${key.length} characters`);
      assert.equal(answer.wait, null, 'no long-poll acknowledgement for an unauthenticated request');
    }
    assert.equal(hub.context.waiters.stats().held, before, 'nothing was held');
  });

  it('one API key opening 10,000 waits gets 50 held and every other one answered 304 "busy" at once', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 200 });
    const start = hub.context.waiters.stats();
    try {
      const answers = await Promise.all(Array.from({ length: 10_000 }, () => longPoll(hub.url, apiKey, { clientDb, wait: '25', agent })));
      const busy = answers.filter((a) => a.status === 304 && a.wait === 'busy').length;
      const stats = hub.context.waiters.stats();
      assert.ok(busy >= 10_000 - 50 * Math.ceil(answers.length / 50), 'over-cap requests are not held');
      assert.equal(stats.refusedKey - start.refusedKey, busy, 'every refusal is counted');
      assert.equal(stats.held - start.held, 10_000 - busy, 'the rest were held (the cap frees as holds end)');
      assert.equal(stats.waiting, 0, 'nothing left waiting once all were answered');
      const metrics = await hub.app.inject({ method: 'GET', url: '/metrics' });
      assert.ok(metrics.statusCode === 404 || metrics.body.includes('moat_hub_downsync_waits_refused_total'), 'metrics show refusals when enabled');
    } finally {
      agent.destroy();
    }
  });

  it('while 50 are held, the 51st wait of the same key is answered at once, not held', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 100 });
    try {
      const held = Array.from({ length: 50 }, () => longPoll(hub.url, apiKey, { clientDb, wait: '25', agent }));
      await waitUntil(() => hub.context.waiters.stats().waiting === 50, '50 held');
      const extra = await longPoll(hub.url, apiKey, { clientDb, wait: '25', agent });
      assert.equal(extra.status, 304);
      assert.equal(extra.wait, 'busy');
      assert.equal(hub.context.waiters.stats().waiting, 50, 'still 50');
      const ended = await Promise.all(held);
      assert.ok(ended.every((a) => a.status === 304 && a.wait === '2'), 'held ones end at the hub limit (1.5 s, shown rounded up)');
    } finally {
      agent.destroy();
    }
  });

  it('negative, NaN, fractional, exponent and array wait values are a 400 bad_wait, never a hold', async () => {
    const before = hub.context.waiters.stats().held;
    for (const wait of ['-1', 'NaN', '1.5', '1e3', ' 5', 'Infinity', '0x10']) {
      const answer = await longPoll(hub.url, apiKey, { clientDb, wait });
      assert.equal(answer.status, 400, `wait=${wait}`);
    }
    const raw = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client_db=${clientDb}&wait=1&wait=2`);
    assert.equal(raw.status, 400, 'two wait values');
    await raw.body?.cancel();
    assert.equal(hub.context.waiters.stats().held, before, 'none was held');
  });

  it('a huge wait value is held no longer than the hub allows', async () => {
    const answer = await longPoll(hub.url, apiKey, { clientDb, wait: '9999999999999999' });
    assert.equal(answer.status, 304);
    assert.equal(answer.wait, '2', 'the hub says its own limit (1.5 s rounded up), not the asked 10^16 s');
  });

  it('200 waiters that never read hold no connection past the hold (slowloris)', async () => {
    const baseline = await connections(hub);
    const path = `/v2/downsync/custom_rules/${apiKey}?client=moat&client_db=${clientDb}&wait=25`;
    const sockets: Socket[] = [];
    // Each wait is either held or refused once the key holds its 50. On a loaded machine, opening 200
    // sockets can outlast a hold (1.5 s), so how many are held at the end depends on speed; that all 200
    // reached the hub does not.
    const before = hub.context.waiters.stats();
    const arrived = () => {
      const now = hub.context.waiters.stats();
      return now.held - before.held + now.refusedKey - before.refusedKey + now.refusedHub - before.refusedHub;
    };
    try {
      for (let i = 0; i < 200; i++) sockets.push(await silentWaiter(hub, path));
      await waitUntil(() => arrived() === 200, 'every wait to be held or refused');
      // The hold ends (1.5 s); the hub answers and closes, whether or not the client reads. The bound only
      // stops a hub that never closes them; it is generous, as 200 sockets take a while on a loaded machine.
      let open = Infinity;
      const deadline = Date.now() + 120_000;
      while (open > baseline && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        open = await connections(hub);
      }
      assert.ok(open <= baseline, `connections back to ${baseline} (have ${open})`);
      assert.equal(hub.context.waiters.stats().waiting, 0);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('waiters that disconnect are removed at once, counted as disconnected', async () => {
    const path = `/v2/downsync/custom_rules/${apiKey}?client=moat&client_db=${clientDb}&wait=25`;
    const start = hub.context.waiters.stats().disconnected;
    const sockets: Socket[] = [];
    for (let i = 0; i < 30; i++) sockets.push(await silentWaiter(hub, path));
    await waitUntil(() => hub.context.waiters.stats().waiting === 30, '30 held');
    for (const s of sockets) s.destroy();
    await waitUntil(() => hub.context.waiters.stats().waiting === 0, 'the held requests of closed sockets to go');
    assert.equal(hub.context.waiters.stats().disconnected - start, 30);
  });
});
