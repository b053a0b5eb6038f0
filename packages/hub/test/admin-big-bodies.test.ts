// Big admin bodies kept off the event loop where it counts: a rules import far over the rule cap is
// refused on its list entries before it is turned into rules (or, as an object, back into text), and a
// feed upload is taken as the bytes sent (no decoding into a string, measuring and re-encoding it).
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { documentReads } from '../src/rules/document-reader.js';
import { run as readDocumentJob } from '../src/rules/document-job.js';
import { MAX_RULES_PER_SITE } from '../src/rules/rule-service.js';
import { FORM_DECODED_IN_WORKER_FROM, formDecodes } from '../src/server/form-body.js';
import type { FeedSource } from '../src/store/feed-records.js';
import { startHubWithSite, type Client, type TestHub } from './support/hub-fixture.js';

/** `count` list entries that are not addresses: read as rules, each would be a problem to report. */
const notAddresses = (count: number) => Array.from({ length: count }, (_, i) => `not-an-address-${i}`);

describe('big admin bodies', () => {
  let hub: TestHub;
  let client: Client;
  let siteId: number;
  before(async () => {
    ({ hub, client, siteId } = await startHubWithSite('big bodies'));
  });
  after(() => hub.stop());

  it('an object document with 5× the rule cap in list entries is refused too_many_rules on the event loop\'s count, never sent to a worker', async () => {
    const reads = documentReads.inWorker;
    const response = await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: { block: { ips: notAddresses(MAX_RULES_PER_SITE * 5) } }, replace: true });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'too_many_rules');
    assert.equal(documentReads.inWorker, reads, 'refused before any reading as rules');
    assert.equal((await hub.store.listRules(siteId)).length, 0);
  });

  it('a JSON import far over the cap is refused while it is still arriving: the shape is checked chunk by chunk', async () => {
    // 250,000 entries: 6 MB, inside the import's body limit, and more values than it allows.
    const entries = MAX_RULES_PER_SITE * 25;
    const body = JSON.stringify({ document: { block: { ips: notAddresses(entries) } }, replace: true });
    const url = new URL(hub.url);
    const socket = connect(Number(url.port), url.hostname);
    const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    socket.write(`POST /api/sites/${siteId}/rules/import HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n`
      + `content-length: ${Buffer.byteLength(body)}\r\ncookie: ${cookie}\r\nx-csrf-token: ${client.csrf}\r\nconnection: close\r\n\r\n`);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    // All but its end: past the values the import allows, and never finished. The answer comes anyway.
    socket.write(body.slice(0, body.length - 100));
    const response = await answer;
    socket.destroy();
    assert.match(response, /^HTTP\/1\.1 400/);
    assert.match(response, /"error":"too_many_rules"/);
    assert.equal((await hub.store.listRules(siteId)).length, 0);
  });

  it('a rules import form of megabytes is decoded in a worker, whole and in order; its field count is still bounded first', async () => {
    const paths = Array.from({ length: 9000 }, (_, i) => `/import-${i}/${'x'.repeat(40)}?a=1&b=2+3%`);
    const document = JSON.stringify({ block: { paths } });
    assert.ok(Buffer.byteLength(new URLSearchParams({ document }).toString()) > FORM_DECODED_IN_WORKER_FROM);
    const before = formDecodes.inWorker;
    const response = await client.request(`/sites/${siteId}/rules/import`, { method: 'POST', form: { _csrf: client.csrf, document, replace: '1' } });
    assert.equal(response.status, 303, await response.text());
    assert.equal(formDecodes.inWorker, before + 1);
    // Every path arrived as sent: `&`, `+`, `%` and `?` in the values survived the decoding.
    const stored = (await hub.store.listRules(siteId)).filter((r) => r.kind === 'path').map((r) => r.value).sort();
    assert.deepEqual(stored, paths.map((p) => p.toLowerCase()).sort());
    // A large body of too many fields is refused before anything is decoded.
    const fields = Array.from({ length: 5000 }, (_, i) => `f${i}=${'y'.repeat(60)}`).join('&');
    const refused = await client.request(`/sites/${siteId}/rules/import`, {
      method: 'POST', body: `_csrf=${client.csrf}&${fields}`, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': client.csrf },
    });
    assert.equal(refused.status, 400);
    assert.equal(formDecodes.inWorker, before + 1);
    await client.api('POST', `/api/sites/${siteId}/rules/import`, { document: {}, replace: true });
  });

  it('a JSON text document far over the cap is refused on its entries before they are read as rules', () => {
    const answer = readDocumentJob({
      text: JSON.stringify({ block: { ips: notAddresses(MAX_RULES_PER_SITE * 5) } }), fileName: 'import', catalogue: { bots: [] } as never, maxRules: MAX_RULES_PER_SITE,
    });
    // Read as rules, the first problem would be answered (invalid_rule); counted first, it is the count.
    assert.deepEqual(answer, { ok: false, tooMany: MAX_RULES_PER_SITE * 5 });
  });

  it('a feed upload is stored, measured and hashed as the bytes sent', async () => {
    const created = await client.api('POST', '/api/feeds?wait=1', { name: 'raw', format: 'ip-list', origin: 'upload', list: 'raw', content: '1.1.1.1\n' });
    const { source } = (await created.json()) as { source: FeedSource };
    // A byte that is not UTF-8, in a comment: decoded as text it would become three bytes (U+FFFD).
    const sent = Buffer.concat([Buffer.from('2.2.2.2\n# caf'), Buffer.from([0xff]), Buffer.from('\n3.3.3.3\n')]);
    const response = await client.request(`/api/feeds/${source.id}/file?wait=1`, {
      method: 'PUT', body: sent, headers: { 'content-type': 'text/plain', 'x-csrf-token': client.csrf },
    });
    assert.equal(response.status, 200);
    const stored = ((await response.json()) as { source: FeedSource }).source;
    assert.equal(stored.status, 'ok', stored.lastError ?? '');
    assert.equal(stored.entries, 2);
    assert.equal(stored.bytes, sent.length);
    assert.equal(stored.sha256, createHash('sha256').update(sent).digest('hex'));
  });
});
