// Attack: get a site to block everyone (or open up to everyone) by poisoning the values its dashboard
// offers for one-click blocking. Reported IPs, paths and user agents are attacker text (a Wafris client
// even reports whatever IP header a request carried), so a signed-in admin clicking Block on a top-list
// row must get exactly the one narrow rule the row shows, or nothing. These tests post the dashboard's
// forms to a real hub on a real socket and check the rules it stores and the file it serves.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine, normalizeRule } from 'moat-waf';
import { tryParseRange } from 'moat-waf/ip';
import { quickBlockValue, quickRuleProblem } from '../../src/rules/quick-block.js';
import { Client, record, upsyncBody, type TestHub, startHubWithSite } from '../support/hub-fixture.js';

interface ListedRule { id: string; action: string; kind: string; value: string; mode: string }

async function upsync(hub: TestHub, apiKey: string, batch: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < batch.length; i += 250) {
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(upsyncBody(batch.slice(i, i + 250))),
    });
    assert.equal(response.status, 200);
  }
  await hub.rollUpNow();
}

async function listRules(client: Client, siteId: number): Promise<ListedRule[]> {
  const response = await client.api('GET', `/api/sites/${siteId}/rules`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { rules: ListedRule[] }).rules;
}

/** Evaluates requests against the custom-rules file the hub serves to clients right now. */
async function servedDecisions(hub: TestHub, apiKey: string, requests: { ip: string; path?: string }[]): Promise<string[]> {
  const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat`);
  assert.equal(response.status, 200);
  const dir = mkdtempSync(join(tmpdir(), 'moat-quick-block-'));
  try {
    const file = join(dir, 'rules.db');
    writeFileSync(file, Buffer.from(await response.arrayBuffer()));
    const engine = Engine.open({ rules: file });
    try {
      return requests.map((r) => engine.evaluate({ ip: r.ip, method: 'GET', path: r.path ?? '/' }).treatment);
    } finally {
      engine.close?.();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('quick block of hostile reported values creates one exact rule or nothing', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('poisoned'));
    // Ordinary traffic from many addresses, so no single value below is a large share of it …
    const batch = Array.from({ length: 60 }, (_, i) => record({ request_id: `v${i}`, ip: `198.51.100.${i + 1}`, path: `/page/${i}`, user_agent: `browser ${i}` }));
    // … plus what a Wafris client reports when an attacker sets X-Real-IP to a range (three times each,
    // so they top the overview's IP list).
    for (const ip of ['::ffff:203.0.113.5/96', '2001:db8::1/0', '::ffff:203.0.113.5']) {
      for (let i = 0; i < 3; i++) batch.push(record({ request_id: `x${i}${ip}`, ip }));
    }
    await upsync(hub, apiKey, batch);
  });
  after(() => hub.stop());

  const quick = (form: Record<string, string>) =>
    client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { mode: 'block', back: `/sites/${siteId}?range=1h`, ...form, _csrf: client.csrf } });

  const hostile: Array<[kind: string, value: string, attack: string]> = [
    ['ip', '::ffff:203.0.113.5/96', 'an IPv4-mapped address with a /96 prefix (would be 0.0.0.0/0)'],
    ['ip', '2001:db8::1/0', 'an IPv6 address with a /0 prefix (would be ::/0)'],
    ['ip', '0.0.0.0/0', 'the whole IPv4 space'],
    ['ip', '::ffff:0:0/96', 'the IPv4-mapped block (every IPv4 client)'],
    ['ip', '::/64', 'an innocent-looking IPv6 /64 that holds every IPv4-mapped address'],
    ['ip', '203.0.113.0/24', 'a modest CIDR prefix'],
    ['ip', '203.0.113.5-203.0.113.250', 'a start-end range'],
    ['ip', '203.0.113.5\u0000', 'an address with a NUL character'],
    ['ip', '203.0.113.5\n10.0.0.0/8', 'an address followed by a newline and a range'],
    ['ip', '\u3000', 'only an ideographic space'],
    ['ip', '', 'an empty value'],
    ['path', '\u3000/\u3000', '"/" between ideographic spaces (would match every path)'],
    ['path', '/', 'a bare "/"'],
    ['path', '\u00a0/\u2003', '"/" between a no-break space and an em space'],
    ['path', '/\u200b', '"/" with a zero-width space (shows as "/")'],
    ['path', '\u2028', 'only a line separator'],
    ['path', '/admin\u0000', 'a path with a NUL character'],
    ['path', '/admin\r\nx', 'a path with CR LF'],
    ['path', '/a'.repeat(3000), 'a 6000-character path'],
    ['userAgent', '\u3000', 'a user agent of only an ideographic space'],
    ['userAgent', ' / ', 'a user agent of just "/"'],
    ['userAgent', 'curl\u202e8/', 'a user agent with a right-to-left override'],
    ['country', 'XX\u0000', 'a country code with a NUL character'],
  ];
  for (const [kind, value, attack] of hostile) {
    it(`quick block (Block, Monitor, and with confirm=1) of ${kind} ${attack} creates no rule`, async () => {
      const extras: Array<Record<string, string>> = [{ mode: 'block' }, { mode: 'monitor' }, { mode: 'block', confirm: '1' }];
      for (const extra of extras) {
        const response = await quick({ kind, value, ...extra });
        assert.equal(response.status, 400, `${JSON.stringify(extra)} ${JSON.stringify(value)}`);
        const page = await response.text();
        assert.match(page, /No rule created/);
        assert.equal(page.includes('\u0000'), false, 'the hostile value is not echoed raw');
      }
      assert.deepEqual(await listRules(client, siteId), []);
    });
  }

  it('a quick-block form with an unknown kind creates no rule', async () => {
    const response = await quick({ kind: 'rateLimit', value: '/' });
    assert.equal(response.status, 400);
    assert.deepEqual(await listRules(client, siteId), []);
  });

  it('the served rules file still passes everyone after all those attempts', async () => {
    const decisions = await servedDecisions(hub, apiKey, [{ ip: '203.0.113.9' }, { ip: '2001:db8::7' }, { ip: '10.1.2.3', path: '/admin' }]);
    assert.deepEqual(decisions, ['Passed', 'Passed', 'Passed']);
  });

  it('the overview offers no Block button for a reported range, and names the exact address for a mapped IP', async () => {
    const html = await (await client.request(`/sites/${siteId}?range=1h`)).text();
    const ipList = html.slice(html.indexOf('data-top="ip"'), html.indexOf('data-top="path"'));
    const row = (value: string) => ipList.split('<tr>').find((r) => r.includes(`>${value}</a>`));
    assert.match(row('::ffff:203.0.113.5/96') ?? '', /data-no-quick-block/);
    assert.doesNotMatch(row('::ffff:203.0.113.5/96') ?? '', /<form/);
    assert.match(row('2001:db8::1/0') ?? '', /data-no-quick-block/);
    const mapped = row('::ffff:203.0.113.5') ?? '';
    assert.match(mapped, /name="value" value="203\.0\.113\.5"/);
    assert.match(mapped, /title="Block IP 203\.0\.113\.5"/);
  });

  it('quick block of the IPv4-mapped address ::ffff:203.0.113.5 blocks exactly 203.0.113.5, in both spellings', async () => {
    const response = await quick({ kind: 'ip', value: '::ffff:203.0.113.5' });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location')!, /done=rule-created/);
    const rules = await listRules(client, siteId);
    assert.deepEqual(rules.map((r) => [r.action, r.kind, r.value, r.mode]), [['block', 'ip', '203.0.113.5', 'block']]);
    const decisions = await servedDecisions(hub, apiKey, [
      { ip: '203.0.113.5' }, { ip: '::ffff:203.0.113.5' }, { ip: '203.0.113.4' }, { ip: '203.0.113.6' }, { ip: '198.51.100.1' }, { ip: '::1' },
    ]);
    assert.deepEqual(decisions, ['Blocked', 'Blocked', 'Passed', 'Passed', 'Passed', 'Passed']);
  });

  it('quick block of an uppercase, zero-padded IPv6 address stores its canonical single address', async () => {
    const response = await quick({ kind: 'ip', value: ' 2001:DB8:0:0::1 ' });
    assert.equal(response.status, 303);
    const rules = await listRules(client, siteId);
    assert.ok(rules.some((r) => r.kind === 'ip' && r.value === '2001:db8::1'));
    assert.equal(rules.length, 2);
    const decisions = await servedDecisions(hub, apiKey, [{ ip: '2001:db8::1' }, { ip: '2001:db8::2' }]);
    assert.deepEqual(decisions, ['Blocked', 'Passed']);
  });
});

describe('a one-click rule that would block a large share of recent traffic waits for a confirm', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  const PROXY = '192.0.2.80';

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('behind a proxy'));
    // A misconfigured proxy: 80 of 100 requests carry the proxy's own address; 70 go to /api/….
    const batch = [
      ...Array.from({ length: 80 }, (_, i) => record({ request_id: `p${i}`, ip: PROXY, path: i < 70 ? `/api/items/${i}` : '/cart', user_agent: 'Mozilla/5.0' })),
      ...Array.from({ length: 20 }, (_, i) => record({ request_id: `d${i}`, ip: `198.51.100.${i + 1}`, path: '/home', user_agent: 'Mozilla/5.0' })),
    ];
    await upsync(hub, apiKey, batch);
  });
  after(() => hub.stop());

  const quick = (form: Record<string, string>, csrf = client.csrf) =>
    client.request(`/sites/${siteId}/rules/quick`, { method: 'POST', form: { mode: 'block', back: `/sites/${siteId}?range=1h`, ...form, _csrf: csrf } });

  it(`Block on the proxy's IP (80 % of requests) shows the numbers and creates nothing`, async () => {
    const response = await quick({ kind: 'ip', value: PROXY });
    assert.equal(response.status, 200);
    const page = await response.text();
    assert.match(page, /Confirm this rule/);
    assert.match(page, /80 % of the requests since/);
    assert.match(page, /<td class="num">80<\/td>\s*<td class="num">100<\/td>\s*<td class="num">80 %<\/td>/);
    assert.match(page, /name="confirm" value="1"/);
    assert.match(page, new RegExp(`name="_csrf" value="${client.csrf}"`));
    assert.deepEqual(await listRules(client, siteId), []);
  });

  it('a forged confirm without the CSRF token creates nothing', async () => {
    const response = await quick({ kind: 'ip', value: PROXY, confirm: '1' }, '');
    assert.equal(response.status, 403);
    const crossSite = await client.request(`/sites/${siteId}/rules/quick`, {
      method: 'POST', headers: { origin: 'https://evil.example' }, form: { kind: 'ip', value: PROXY, mode: 'block', confirm: '1', _csrf: client.csrf },
    });
    assert.equal(crossSite.status, 403);
    assert.deepEqual(await listRules(client, siteId), []);
  });

  it('Block on /api (70 % of requests) asks first too; Monitor on it does not', async () => {
    const block = await quick({ kind: 'path', value: '/api' });
    assert.equal(block.status, 200);
    assert.match(await block.text(), /at least 70 %|70 %/);
    assert.deepEqual(await listRules(client, siteId), []);
    const monitor = await quick({ kind: 'path', value: '/api', mode: 'monitor' });
    assert.equal(monitor.status, 303);
    assert.deepEqual((await listRules(client, siteId)).map((r) => [r.kind, r.value, r.mode]), [['path', '/api', 'monitor']]);
  });

  it('switching that monitor rule to block on the Rules page asks first', async () => {
    const rule = (await listRules(client, siteId)).find((r) => r.value === '/api')!;
    const ask = await client.request(`/sites/${siteId}/rules/${rule.id}/mode`, { method: 'POST', form: { _csrf: client.csrf, mode: 'block' } });
    assert.equal(ask.status, 200);
    assert.match(await ask.text(), /Confirm this rule/);
    assert.equal((await listRules(client, siteId)).find((r) => r.id === rule.id)!.mode, 'monitor');
    const confirmed = await client.request(`/sites/${siteId}/rules/${rule.id}/mode`, { method: 'POST', form: { _csrf: client.csrf, mode: 'block', confirm: '1' } });
    assert.equal(confirmed.status, 303);
    assert.equal((await listRules(client, siteId)).find((r) => r.id === rule.id)!.mode, 'block');
    await client.api('DELETE', `/api/sites/${siteId}/rules/${rule.id}`);
  });

  it('the explicit confirm creates exactly the shown rule, and the served file blocks only that IP', async () => {
    const response = await quick({ kind: 'ip', value: PROXY, confirm: '1' });
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location')!, /done=rule-created/);
    assert.deepEqual((await listRules(client, siteId)).map((r) => [r.kind, r.value, r.mode]), [['ip', PROXY, 'block']]);
    assert.deepEqual(await servedDecisions(hub, apiKey, [{ ip: PROXY }, { ip: '192.0.2.81' }]), ['Blocked', 'Passed']);
  });

  it('Block on an IP with a small share creates the rule at once', async () => {
    const response = await quick({ kind: 'ip', value: '198.51.100.3' });
    assert.equal(response.status, 303);
    assert.ok((await listRules(client, siteId)).some((r) => r.value === '198.51.100.3'));
  });
});

describe('the Add-a-rule form refuses everything-matching rules unless confirmed', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;

  before(async () => {
    let apiKey: string;
    ({ hub, client, siteId, apiKey } = await startHubWithSite('form'));
    // Recent traffic: every request a GET to example.test, half of them with ?page=….
    await upsync(hub, apiKey, Array.from({ length: 40 }, (_, i) => record({
      request_id: `f${i}`, ip: `198.51.100.${i + 1}`, path: `/item/${i}`, parameter: i % 2 ? `page=${i}` : '',
    })));
  });
  after(() => hub.stop());

  const add = (form: Record<string, string>) =>
    client.request(`/sites/${siteId}/rules`, { method: 'POST', form: { action: 'block', mode: 'block', ...form, _csrf: client.csrf } });

  const broad: Array<[action: string, kind: string, value: string]> = [
    ['block', 'ip', '0.0.0.0/0'],
    ['block', 'ip', '::/0'],
    ['block', 'ip', '::ffff:203.0.113.5/96'],
    ['block', 'ip', '2001:db8::1/0'],
    ['block', 'ip', '::/64'],
    ['block', 'ip', '0.0.0.0-255.255.255.255'],
    ['allow', 'ip', '0.0.0.0/0'],
    ['block', 'path', '\u3000/\u3000'],
    ['block', 'userAgent', '/'],
    ['block', 'param', '\u3000'],
  ];
  for (const [action, kind, value] of broad) {
    it(`${action} ${kind} ${JSON.stringify(value)} through the form is not stored without a confirm`, async () => {
      const response = await add({ action, kind, value });
      const page = await response.text();
      // Either the confirmation page, or (when the engine's own validation refuses the value) an error.
      if (response.status === 200) {
        assert.match(page, /Confirm this rule/);
        assert.match(page, /name="confirm" value="1"/);
      } else {
        assert.equal(response.status, 400);
        assert.match(page, /class="error"/);
      }
      assert.deepEqual(await listRules(client, siteId), []);
    });
  }

  for (const [kind, value, share] of [['method', 'get', '100 %'], ['host', 'EXAMPLE.test', '100 %'], ['param', 'page=', '50 %']]) {
    it(`block ${kind} ${value} (${share} of the newest reports) through the form asks first, with the numbers`, async () => {
      const response = await add({ kind, value });
      assert.equal(response.status, 200);
      const page = await response.text();
      assert.match(page, /Confirm this rule/);
      assert.match(page, new RegExp(`data-window="newest reports"[\\s\\S]*?<td class="num">${share}</td>`));
      assert.deepEqual(await listRules(client, siteId), []);
    });
  }

  it('importing a document that blocks "\u3000/\u3000" and ::/0 asks first; the confirm imports it as written', async () => {
    const document = JSON.stringify({ block: { paths: ['/wp-admin', '\u3000/\u3000'], ips: ['::/0'] } }, null, 2);
    const ask = await client.request(`/sites/${siteId}/rules/import`, { method: 'POST', form: { _csrf: client.csrf, document } });
    assert.equal(ask.status, 200);
    const page = await ask.text();
    assert.match(page, /Confirm this import/);
    assert.match(page, /Block path &quot;\u3000\/\u3000&quot;: this path rule shows as just &quot;\/&quot;/);
    assert.match(page, /Block ip &quot;::\/0&quot;: ::\/0 covers/);
    assert.deepEqual(await listRules(client, siteId), []);
    const confirmed = await client.request(`/sites/${siteId}/rules/import`, { method: 'POST', form: { _csrf: client.csrf, document, confirm: '1' } });
    if (confirmed.status === 303) {
      assert.deepEqual((await listRules(client, siteId)).map((r) => r.value).sort(), ['/wp-admin', '::/0', '\u3000/\u3000']);
      for (const r of await listRules(client, siteId)) await client.api('DELETE', `/api/sites/${siteId}/rules/${r.id}`);
    } else {
      // The engine's own validation may refuse such values outright; then nothing is stored.
      assert.equal(confirmed.status, 400);
      assert.deepEqual(await listRules(client, siteId), []);
    }
  });

  it('a confirmed /1 IPv4 range is stored as shown; the confirmation named its size', async () => {
    const ask = await add({ kind: 'ip', value: '0.0.0.0/1' });
    assert.equal(ask.status, 200);
    assert.match(await ask.text(), /2,147,483,648 IPv4 addresses, more than a \/8/);
    assert.deepEqual(await listRules(client, siteId), []);
    const confirmed = await add({ kind: 'ip', value: '0.0.0.0/1', confirm: '1' });
    assert.equal(confirmed.status, 303);
    assert.deepEqual((await listRules(client, siteId)).map((r) => [r.kind, r.value]), [['ip', '0.0.0.0/1']]);
  });

  it('an ordinary /24 through the form is stored at once', async () => {
    const response = await add({ kind: 'ip', value: '203.0.113.0/24' });
    assert.equal(response.status, 303);
    assert.ok((await listRules(client, siteId)).some((r) => r.value === '203.0.113.0/24'));
  });
});

describe('quick-block values, exhaustively', () => {
  it('no combination of addresses, prefixes, ranges, zones and Unicode spaces yields a quick IP rule wider than one address', () => {
    const addresses = ['203.0.113.5', '::ffff:203.0.113.5', '::ffff:cb00:7105', '2001:db8::1', '::', '0.0.0.0', '::ffff:0:0', 'fe80::1%eth0', '255.255.255.255'];
    const tails = ['', '/0', '/1', '/8', '/32', '/64', '/96', '/128', '/ 0', '-255.255.255.255', '-ffff::', ' - ::1', '%lo/0', '/0\u3000'];
    const pads = ['', ' ', '\u3000', '\u00a0', '\u2028', '\u2003'];
    let made = 0;
    for (const address of addresses) for (const tail of tails) for (const pad of pads) {
      const reported = `${pad}${address}${tail}${pad}`;
      const quick = quickBlockValue('ip', reported);
      // Only a bare address (any padding) is accepted: never a prefix, range or zone.
      assert.equal(quick.ok, tail === '' && !address.includes('%'), JSON.stringify(reported));
      if (!quick.ok) continue;
      const rule = normalizeRule({ action: 'block', kind: 'ip', value: quick.value });
      const range = tryParseRange(rule.value)!;
      assert.equal(range.start, range.end, `${JSON.stringify(reported)} became ${rule.value}`);
      assert.equal(quickRuleProblem(rule), undefined);
      made++;
    }
    assert.equal(made, (addresses.length - 1) * pads.length);
  });

  it('no path or user agent made of "/" and spaces or invisible characters becomes a quick rule', () => {
    const fillers = ['', ' ', '\u3000', '\u00a0', '\u2028', '\u2003', '\u200b', '\ufeff', '\u180e', '\u2060', '\t'];
    for (const kind of ['path', 'userAgent'] as const) {
      for (const a of fillers) for (const b of fillers) for (const core of ['', '/']) {
        const reported = `${a}${core}${b}`;
        assert.equal(quickBlockValue(kind, reported).ok, false, `${kind} ${JSON.stringify(reported)}`);
      }
    }
    // A real path with the same padding is still offered, exactly as reported.
    assert.deepEqual(quickBlockValue('path', '\u3000/wp-admin'), { ok: true, value: '\u3000/wp-admin' });
  });
});
