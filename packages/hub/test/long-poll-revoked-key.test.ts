// A downsync held open (long poll) with a key that is revoked meanwhile answered with the site's next
// rules file, made after the revocation: the holder of a leaked key saw one more change. The key is now
// checked again before anything is sent after a hold. Real hub on 127.0.0.1, SQLite store.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { startHubWithSite } from './support/hub-fixture.js';
import { longPoll, waitUntil } from './support/long-poll-client.js';

test('a key revoked during a long poll gets 401 when the hold ends, not the rules file made after the revocation', async () => {
  const { hub, client, siteId, apiKey, keyId } = await startHubWithSite('revoked during hold');
  try {
    const first = await longPoll(hub.url, apiKey, { clientDb: '' });
    assert.equal(first.status, 200);
    const held = longPoll(hub.url, apiKey, { clientDb: first.fileName!, wait: '20' });
    await waitUntil(() => hub.context.waiters.stats().waiting === 1, 'the request to be held');
    assert.equal((await client.api('DELETE', `/api/sites/${siteId}/keys/${keyId}`)).status, 204);
    assert.equal((await longPoll(hub.url, apiKey, { clientDb: '' })).status, 401, 'a new request with the revoked key');
    // The change the held request was waiting for: made after the revocation.
    assert.equal((await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '198.51.100.66', note: 'after the revocation' })).status, 201);
    const answer = await held;
    assert.equal(answer.status, 401);
    assert.equal(answer.fileName, null, 'no file went out');
    // A key still active is answered as before: the hold ends with the new file.
    const created = await client.api('POST', `/api/sites/${siteId}/keys`, { label: 'second' });
    const second = ((await created.json()) as { key: string }).key;
    const current = await longPoll(hub.url, second, { clientDb: '' });
    const next = longPoll(hub.url, second, { clientDb: current.fileName!, wait: '20' });
    await waitUntil(() => hub.context.waiters.stats().waiting === 1, 'the second key\'s request to be held');
    assert.equal((await client.api('POST', `/api/sites/${siteId}/rules`, { kind: 'ip', value: '198.51.100.67' })).status, 201);
    const served = await next;
    assert.equal(served.status, 200);
    assert.notEqual(served.fileName, current.fileName);
  } finally {
    await hub.stop();
  }
});
