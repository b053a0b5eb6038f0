// Attack: a signed-in admin (a stolen session is enough), or a site that simply grew, freezes the hub
// through its rules. An import of up to 5 million characters was read (the YAML parser, then the engine's
// checks on every entry) on the event loop, at about a microsecond per character: a 4.75 MB document
// whose last entry was malformed held every other request 2.4 s before its 400. A site could hold
// 100 000 rules, and every change of them, and every automatic ban, recompiled all of them on the loop
// (0.85 s at 25 000 rules). Now a big document is read, and a big site compiled, in a worker thread; the
// worker refuses more rules than a site may hold before copying anything back; a site holds at most
// 10 000 rules. Real hub on 127.0.0.1, real HTTP, served files opened by the engine; nothing timed.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine } from 'moat-waf';
import { documentReads } from '../../src/rules/document-reader.js';
import { INLINE_COMPILE_RULES } from '../../src/distribution/rules-builder.js';
import { MAX_RULES_PER_SITE } from '../../src/rules/rule-service.js';
import { RULES_PER_PAGE } from '../../src/ui/pages/rules-page.js';
import { startHubWithSite, type Client, type TestHub } from '../support/hub-fixture.js';

/** Timer turns the event loop gets while `work` runs: a loop held by one long task gets none meanwhile. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  const ticker = setInterval(() => { turns++; }, 1);
  try {
    return { result: await work(), turns };
  } finally {
    clearInterval(ticker);
  }
}

const ips = (n: number, from = 0) => Array.from({ length: n }, (_, k) => {
  const i = k + from;
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
});

describe('big rules documents and big sites', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  let apiKey: string;
  const scratch = mkdtempSync(join(tmpdir(), 'moat-big-site-'));

  before(async () => {
    ({ hub, client, siteId, apiKey } = await startHubWithSite('big site'));
    assert.equal((await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/kept' })).status, 201);
  });
  after(async () => {
    await hub.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  interface ListedPage { rules: { id: string; value: string }[]; total: number; offset: number; limit: number }
  /** Every rule as the API lists it, a page of at most 1,000 at a time (`query`: a search). */
  const storedRules = async (query = '') => {
    const all: { id: string; value: string }[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = (await (await client.request(`/api/sites/${siteId}/rules?offset=${offset}${query}`)).json()) as ListedPage;
      assert.ok(page.rules.length <= 1000 && page.limit === 1000 && page.offset === offset);
      all.push(...page.rules);
      if (offset + page.rules.length >= page.total) {
        assert.equal(all.length, page.total, 'the pages hold every rule once');
        return all;
      }
      assert.equal(page.rules.length, 1000, 'a page before the last is full');
    }
  };
  const storedValues = async () => (await storedRules()).map((r) => r.value);

  /** How often the store listed a site's every rule while `work` ran (the real store, counted). */
  const listingsDuring = async <T>(work: () => Promise<T>): Promise<{ result: T; listed: number }> => {
    const store = hub.context.store;
    const original = store.listRules;
    let listed = 0;
    store.listRules = (siteId: number) => {
      listed++;
      return original.call(store, siteId);
    };
    try {
      return { result: await work(), listed };
    } finally {
      store.listRules = original;
    }
  };

  /** The site's Moat rules file as a client downloads it, opened by the engine. */
  const servedEngine = async (): Promise<Engine> => {
    const response = await fetch(`${hub.url}/v2/downsync/custom_rules/${apiKey}?client=moat&hostname=t&process_id=1&version=0.1.0`);
    assert.equal(response.status, 200);
    const path = join(scratch, `served-${Date.now()}-${Math.random()}.db`);
    writeFileSync(path, Buffer.from(await response.arrayBuffer()));
    return Engine.open({ rules: path });
  };

  it('a 4.75 MB document malformed at its end is read in a worker and refused with invalid_rule; nothing is stored', async () => {
    const paths = Array.from({ length: 475_000 }, (_, i) => `/${i.toString(36).padStart(6, '0')}`);
    const document = `{"block":{"paths":${JSON.stringify(paths).slice(0, -1)},]]}}`;
    assert.ok(document.length > 4_700_000 && document.length < 5_000_000);
    const readsBefore = documentReads.inWorker;
    const { result, turns } = await turnsDuring(async () => {
      const response = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document, replace: true });
      return { status: response.status, body: (await response.json()) as { error: string; message: string } };
    });
    assert.equal(result.status, 400);
    assert.equal(result.body.error, 'invalid_rule');
    assert.match(result.body.message, /^import:1: /, 'the problems name where they are, as for a document read in place');
    assert.equal(documentReads.inWorker, readsBefore + 1, 'the document was read in a worker thread');
    // Only sending and receiving the body let the loop turn while it was read in place (a few dozen times).
    assert.ok(turns >= 50, `the event loop turned only ${turns} times while the document was read`);
    assert.deepEqual(await storedValues(), ['/kept']);
  });

  it('a document of more rules than a site may hold is refused whole with too_many_rules, as text or as JSON, replacing or adding', async () => {
    const over = { block: { ips: ips(MAX_RULES_PER_SITE + 1) } };
    for (const document of [over, JSON.stringify(over)]) {
      for (const replace of [true, false]) {
        const response = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document, replace });
        assert.equal(response.status, 400);
        const body = (await response.json()) as { error: string; message: string };
        assert.equal(body.error, 'too_many_rules');
        assert.match(body.message, /10001 rules; at most 10000 rules per site .*data feed/);
      }
    }
    assert.deepEqual(await storedValues(), ['/kept'], 'nothing was stored');
  });

  it('the dashboard import form refuses it the same way', async () => {
    const response = await client.request(`/sites/${siteId}/rules/import`, {
      method: 'POST', form: { _csrf: client.csrf, document: JSON.stringify({ block: { ips: ips(MAX_RULES_PER_SITE + 1) } }), replace: '1', confirm: '1' },
      headers: { 'x-csrf-token': client.csrf },
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /at most 10000 rules per site/);
    assert.deepEqual(await storedValues(), ['/kept']);
  });

  it('a site at its cap compiles in a worker: the served file holds every rule, and one more rule is refused', async () => {
    const builder = hub.context.builder;
    const compiledBefore = builder.compiledInWorkers;
    const imported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { ips: ips(MAX_RULES_PER_SITE - 2) } }, replace: false });
    assert.equal(imported.status, 200, await imported.clone().text());
    assert.ok(MAX_RULES_PER_SITE - 1 > INLINE_COMPILE_RULES);
    assert.equal(builder.compiledInWorkers, compiledBefore + 1, 'the import compiled in a worker');

    // One rule added to 9 999 recompiles them all, in a worker, while the loop keeps turning.
    const { result: { result: added, listed }, turns } = await turnsDuring(() =>
      listingsDuring(() => client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/last-one' })));
    assert.equal(added.status, 201);
    assert.equal(listed, 0, 'the worker read the stored rules itself, not the event loop');
    assert.equal(builder.compiledInWorkers, compiledBefore + 2);
    assert.ok(turns >= 20, `the event loop turned only ${turns} times while 10 000 rules compiled`);

    const engine = await servedEngine();
    try {
      for (const ip of ['10.0.0.0', '10.0.19.99', ips(1, MAX_RULES_PER_SITE - 3)[0]!]) {
        assert.equal(engine.evaluate({ ip, method: 'GET', path: '/' }).treatment, 'Blocked', ip);
      }
      assert.equal(engine.evaluate({ ip: ips(1, MAX_RULES_PER_SITE - 2)[0]!, method: 'GET', path: '/' }).treatment, 'Passed', 'the first address not imported');
      assert.equal(engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/last-one' }).treatment, 'Blocked');
      assert.equal(engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/kept' }).treatment, 'Blocked');
    } finally {
      engine.close();
    }

    const refused = await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'path', value: '/one-too-many' });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: string }).error, 'too_many_rules');
    assert.equal((await storedValues()).length, MAX_RULES_PER_SITE);
  });

  it('the Rules page of a site at its cap shows one page of 500, finds a rule by search, and a link lands on the rule\'s page', async () => {
    const rows = (page: string) => [...page.matchAll(/<tr data-rule-id="([^"]+)"/g)].map((m) => m[1]!);
    const stored = await storedRules();
    assert.equal(stored.length, MAX_RULES_PER_SITE);
    assert.deepEqual(stored.map((r) => r.id), (await hub.store.listRules(siteId)).map((r) => r.id), 'the pages in list order');
    // The API reads one page from the store, not the site's whole list, whichever page is asked for.
    for (const path of [`/api/sites/${siteId}/rules?offset=9000`, `/api/sites/${siteId}/rules?limit=1`, `/sites/${siteId}/rules?page=20`]) {
      const { result, listed } = await listingsDuring(() => client.request(path));
      assert.equal(result.status, 200, path);
      assert.equal(listed, 0, `${path} listed every rule`);
    }
    const one = (await (await client.request(`/api/sites/${siteId}/rules?limit=1&offset=9999`)).json()) as ListedPage;
    assert.deepEqual([one.rules.map((r) => r.id), one.total], [[stored.at(-1)!.id], MAX_RULES_PER_SITE]);
    for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'offset=abc']) {
      assert.equal((await client.request(`/api/sites/${siteId}/rules?${bad}`)).status, 400, bad);
    }
    assert.deepEqual((await storedRules(`&q=${encodeURIComponent('/LAST')}`)).map((r) => r.value), ['/last-one'], 'the API searches as the page does');
    const first = await (await client.request(`/sites/${siteId}/rules`)).text();
    assert.deepEqual(rows(first), stored.slice(0, RULES_PER_PAGE).map((r) => r.id));
    assert.match(first, /Rules 1–500 of 10,000/);
    assert.ok(first.length < 1_000_000, `the page is ${first.length} characters`);

    const last = stored.at(-1)!;
    assert.equal(last.value, '/last-one');
    const linked = await (await client.request(`/sites/${siteId}/rules?rule=${encodeURIComponent(last.id)}`)).text();
    assert.ok(rows(linked).includes(last.id), 'the link opens the page holding the rule');
    assert.match(linked, /Rules 9,501–10,000 of 10,000/);
    for (const query of ['page=9999', 'page=0', 'page=abc', `page=${'9'.repeat(400)}`, 'rule=nope']) {
      const page = await client.request(`/sites/${siteId}/rules?${query}`);
      assert.equal(page.status, 200, query);
      assert.equal(rows(await page.text()).length, RULES_PER_PAGE, `${query}: a whole page, never an error`);
    }
    const found = await (await client.request(`/sites/${siteId}/rules?q=${encodeURIComponent('/LAST')}`)).text();
    assert.deepEqual(rows(found), [last.id], 'search is case-insensitive over values');
    assert.match(found, /Rules 1–1 of 1 matching, 10,000 in all/);
    const none = await (await client.request(`/sites/${siteId}/rules?q=${encodeURIComponent('<script>')}`)).text();
    assert.match(none, /No rule matches the search/);
    assert.ok(!none.includes('value="<script>"'), 'the search text is escaped');

    // A rule added through the form lands on its own row, on the last page.
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/rules/${encodeURIComponent(stored[0]!.id)}`)).status, 204);
    const added = await client.request(`/sites/${siteId}/rules`, {
      method: 'POST', form: { _csrf: client.csrf, action: 'block', kind: 'path', value: '/from-the-form', mode: 'block', confirm: '1' },
    });
    assert.equal(added.status, 303);
    const location = added.headers.get('location')!;
    assert.match(location, /done=rule-created&rule=.+#rule-/);
    const landed = await (await client.request(location.replace(/#.*/, ''))).text();
    const newest = (await storedRules()).at(-1)!;
    assert.equal(newest.value, '/from-the-form');
    assert.ok(rows(landed).includes(newest.id));
  });

  it('a site over the cap from an older hub keeps its rules, changes and re-imports them, and adds none', async () => {
    // Stored past the service, as a hub with the old cap of 100 000 would have.
    await hub.store.saveRules(siteId, [{ id: 'from-before', action: 'block', kind: 'path', value: '/from-before', mode: 'block' }], { replace: false, now: 1 });
    assert.equal(await hub.store.countRules(siteId), MAX_RULES_PER_SITE + 1);
    const reimported = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/last-one'] } }, replace: false });
    assert.equal(reimported.status, 200, await reimported.clone().text());
    assert.equal((await client.api('PATCH', `/api/sites/${siteId}/rules/from-before`, { mode: 'monitor' })).status, 200);
    const added = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/brand-new'] } }, replace: false });
    assert.equal(added.status, 400);
    assert.equal(((await added.json()) as { error: string }).error, 'too_many_rules');
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/rules/from-before`)).status, 204);
    assert.equal(await hub.store.countRules(siteId), MAX_RULES_PER_SITE);
  });
});
