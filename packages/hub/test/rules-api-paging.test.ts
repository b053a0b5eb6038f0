// GET /api/sites/:id/rules paged by cursor (`after` = the previous page's `next`) on a real hub over each
// store: rules deleted on pages already read, on the page being read and ahead, and rules added while
// paging, never make the walk skip or repeat a rule that was there throughout. A cursor that does not
// decode is a 400 naming `after`, never a 500.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Rule } from 'moat-waf';
import { createHub, type Hub } from '../src/index.js';
import type { HubStore } from '../src/store/store.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client, createSiteWithKey } from './support/hub-fixture.js';
import { freshDatabase, type TestDatabase } from './support/postgres.js';

interface RulesAnswer { rules: { id: string }[]; total: number; offset: number | null; limit: number; next: string | null }

const pathRule = (id: string, value = `/${id}`): Rule => ({ id, action: 'block', kind: 'path', value, mode: 'block' });

for (const storeKind of ['SQLite', 'PostgreSQL'] as const) {
  describe(`rules API paged by cursor (${storeKind})`, () => {
    const scratch = mkdtempSync(join(tmpdir(), 'moat-rules-paging-'));
    let db: TestDatabase | undefined;
    let hub: Hub<HubStore>;
    let client: Client;
    let siteId = 0;

    const page = async (query: string): Promise<Response> => client.request(`/api/sites/${siteId}/rules?${query}`);
    const answer = async (query: string): Promise<RulesAnswer> => {
      const response = await page(query);
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as RulesAnswer;
    };

    before(async () => {
      if (storeKind === 'PostgreSQL') db = await freshDatabase('moat_rules_paging');
      hub = await createHub({
        dataDir: join(scratch, 'hub'), databaseUrl: db?.url, host: '127.0.0.1', port: 0, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD,
        rollupIntervalMs: 60_000, print: () => undefined, ...(db ? { databasePoolSize: 4 } : {}),
      });
      client = new Client(hub.url);
      assert.equal((await client.login()).status, 303);
      ({ siteId } = await createSiteWithKey(client, 'paging'));
    });
    after(async () => {
      await hub?.close();
      await db?.drop();
      rmSync(scratch, { recursive: true, force: true });
    });

    it('every rule present throughout is seen exactly once while rules are deleted and added between pages', async () => {
      const initial = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
      await hub.store.saveRules(siteId, initial.map((id) => pathRule(id)), { replace: false, now: 1 });
      const deleted = new Set<string>();
      const remove = async (id: string) => {
        assert.equal((await client.api('DELETE', `/api/sites/${siteId}/rules/${id}`)).status, 204);
        deleted.add(id);
      };
      const seen: string[] = [];
      let next: string | null = null;
      let pages = 0;
      do {
        const body: RulesAnswer = await answer(`limit=5${next === null ? '' : `&after=${next}`}`);
        seen.push(...body.rules.map((r) => r.id));
        next = body.next;
        pages++;
        if (pages > 20) assert.fail('the walk did not end');
        // Between pages: two rules already read, the last one of this page, one of the next page, and a new rule added.
        for (const id of seen.filter((x) => !deleted.has(x)).slice(0, 2)) await remove(id);
        const last = body.rules.at(-1)?.id;
        if (last !== undefined && !deleted.has(last)) await remove(last);
        const ahead = initial.find((id) => !deleted.has(id) && !seen.includes(id));
        if (ahead !== undefined && pages % 2 === 0) await remove(ahead);
        const added = await client.api('POST', `/api/sites/${siteId}/rules`, { action: 'block', kind: 'path', value: `/added-${pages}`, mode: 'block' });
        assert.equal(added.status, 201);
      } while (next);
      assert.equal(new Set(seen).size, seen.length, 'no rule twice');
      const throughout = initial.filter((id) => !deleted.has(id));
      assert.ok(throughout.length >= 5, 'some rules stayed throughout');
      assert.deepEqual(throughout.filter((id) => !seen.includes(id)), [], 'none of the rules there throughout skipped');
      assert.ok(seen.some((id) => !initial.includes(id)), 'rules added while paging are reached too');
    });

    it('the cursor follows a search (q) and the last page says next: null', async () => {
      await hub.store.saveRules(siteId, ['q1', 'q2', 'q3'].map((id) => pathRule(id, `/Searched-${id}`)), { replace: false, now: 1 });
      const first = await answer('q=SEARCHED&limit=2');
      assert.deepEqual([first.rules.map((r) => r.id), first.total], [['q1', 'q2'], 3]);
      assert.ok(first.next);
      const second = await answer(`q=SEARCHED&limit=2&after=${first.next}`);
      assert.deepEqual([second.rules.map((r) => r.id), second.next, second.offset], [['q3'], null, null], 'a page from a cursor has no offset');
      const byOffset = await answer('q=SEARCHED&limit=2&offset=1');
      assert.deepEqual([byOffset.rules.map((r) => r.id), byOffset.offset, byOffset.next], [['q2', 'q3'], 1, null], 'offset paging still works, and says when it ends');
    });

    it('a cursor that does not decode, or comes with an offset, is a 400 naming the parameter', async () => {
      const encoded = (content: unknown) => Buffer.from(JSON.stringify(content)).toString('base64url');
      const cursor = (await answer('limit=1')).next!;
      for (const [bad, why] of [
        ['not a cursor!', 'characters outside base64url'],
        ['AAAA', 'not JSON'],
        [encoded({ position: 1, id: 'x' }), 'another shape'],
        [encoded([1, -1, 'r01']), 'a negative position'],
        [encoded([1, 1.5, 'r01']), 'a fractional position'],
        [encoded([1, 3, '']), 'an empty id'],
        [encoded([2, 3, 'r01']), 'another format'],
        [encoded([1, 3, 'x'.repeat(300)]), 'an id longer than any rule id'],
        ['A'.repeat(5000), 'far too long'],
      ] as const) {
        const response = await page(`limit=5&after=${encodeURIComponent(bad)}`);
        assert.equal(response.status, 400, why);
        const body = (await response.json()) as { error: string; issues: { path: string; message: string }[] };
        assert.equal(body.error, 'invalid_request', why);
        assert.deepEqual(body.issues.map((i) => i.path), ['after'], why);
      }
      const both = await page(`limit=5&offset=5&after=${cursor}`);
      assert.equal(both.status, 400);
      assert.match(JSON.stringify(await both.json()), /after or offset, not both/);
      // An edited cursor that still decodes grants nothing: it starts the page elsewhere in this site's list.
      assert.equal((await page(`limit=5&after=${encoded([1, 0, 'a'])}`)).status, 200);
    });
  });
}
