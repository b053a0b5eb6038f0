// A rules document imported with a `bots:` section is checked against the bot catalogue in force: a bot
// that only a `bots` feed delivered (examplebot) is taken, and a bot id no catalogue names is still
// refused whole, so an import can never smuggle an unchecked key into the site's bot settings.
// Real hub, real HTTP, the catalogue uploaded through the feeds API.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startHubWithSite } from '../support/hub-fixture.js';

const SHIPPED = JSON.parse(readFileSync(new URL('../../../moat/data/bots.json', import.meta.url), 'utf8')) as { bots: object[] };
const EXAMPLE = { id: 'examplebot', name: 'ExampleBot', category: 'ai-crawler', tokens: ['examplebot'] };

describe('rules imports name bots of the catalogue in force', () => {
  it('POST /rules/import with bots: {examplebot: block} is refused with the shipped catalogue, taken once a bots feed adds examplebot; an unknown bot id stays refused', async () => {
    const { hub, client, siteId } = await startHubWithSite();
    try {
      const importDocument = (bots: object) => client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { paths: ['/wp-admin'] }, bots }, replace: true });
      const before = await importDocument({ examplebot: 'block' });
      assert.equal(before.status, 400, 'the shipped catalogue has no examplebot');
      assert.match(await before.text(), /examplebot/);

      const created = await client.api('POST', '/api/feeds', { name: 'uploaded catalogue', format: 'bots', origin: 'upload' });
      assert.equal(created.status, 201, await created.clone().text());
      const id = ((await created.json()) as { source: { id: number } }).source.id;
      const body = JSON.stringify({ version: 1, updated: '2026-12-02-feed', about: 'test feed', bots: [...SHIPPED.bots, EXAMPLE] });
      const sent = await client.request(`/api/feeds/${id}/file?wait=1`, { method: 'PUT', body, headers: { 'content-type': 'text/plain', 'x-csrf-token': client.csrf } });
      assert.equal(sent.status, 200, await sent.clone().text());
      assert.equal(((await sent.json()) as { source: { status: string } }).source.status, 'ok');

      const taken = await importDocument({ examplebot: 'block', 'ai-crawler': 'monitor' });
      assert.equal(taken.status, 200, await taken.clone().text());
      assert.deepEqual(JSON.parse((await hub.store.getBotSettings(siteId))!), { 'ai-crawler': 'monitor', examplebot: 'block' });
      const exported = (await (await client.api('GET', `/api/sites/${siteId}/rules/export`)).json()) as { bots?: Record<string, string> };
      assert.deepEqual(exported.bots, { 'ai-crawler': 'monitor', examplebot: 'block' });

      // Still checked: an id in no catalogue, or a prototype key, refuses the whole document and changes nothing.
      for (const bots of [{ evilbot: 'block' }, JSON.parse('{"__proto__": "block"}') as object, { examplebot: 'allow' }]) {
        const refused = await importDocument(bots);
        assert.equal(refused.status, 400, JSON.stringify(bots));
      }
      assert.deepEqual(JSON.parse((await hub.store.getBotSettings(siteId))!), { 'ai-crawler': 'monitor', examplebot: 'block' });
    } finally {
      await hub.stop();
    }
  });
});
