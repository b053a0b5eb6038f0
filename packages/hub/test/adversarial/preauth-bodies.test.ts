// Attack: freeze the hub without credentials. A few megabytes of deeply nested JSON took seconds of one
// JSON.parse call, and the hub parsed bodies before it checked the session. These tests send such bodies
// (or only announce them, holding the bytes back) to every body-taking route of a real hub on a real
// socket, without a session and with a bad API key, and check that the answer comes from the request head
// alone; then, signed in, that nesting bombs and oversized bodies are refused with clear codes.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client, type TestHub, startHubWithSite } from '../support/hub-fixture.js';
import { sendHeadOnly } from './raw-request.js';

const MB = 1024 * 1024;
/** 5.9 MB of `[[[[…]]]]`: the body that froze the event loop for ~3.7 s before the 401. */
const NESTED_BOMB = `${'['.repeat(2_950_000)}${']'.repeat(2_950_000)}`;

/** Every route that takes a body and needs a session (site 1, key 1 and rule r exist or not: no matter). */
const SESSION_BODY_ROUTES: [method: string, path: string, contentType: string][] = [
  ['POST', '/api/sites', 'application/json'],
  ['POST', '/api/sites/1/keys', 'application/json'],
  ['DELETE', '/api/sites/1/keys/1', 'application/json'],
  ['POST', '/api/sites/1/rules', 'application/json'],
  ['PATCH', '/api/sites/1/rules/r', 'application/json'],
  ['DELETE', '/api/sites/1/rules/r', 'application/json'],
  ['POST', '/api/sites/1/rules/import', 'application/json'],
  ['POST', '/sites', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/rules', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/rules/quick', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/rules/import', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/rules/r/mode', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/rules/r/delete', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/keys', 'application/x-www-form-urlencoded'],
  ['POST', '/sites/1/keys/1/revoke', 'application/x-www-form-urlencoded'],
  ['POST', '/logout', 'application/x-www-form-urlencoded'],
  ['POST', '/account/password', 'application/x-www-form-urlencoded'],
];

describe('pre-auth bodies: nothing is read or parsed before the caller is known', () => {
  let hub: TestHub;
  let client: Client;
  let apiKey: string;
  let siteId: number;

  before(async () => {
    ({ hub, client, apiKey, siteId } = await startHubWithSite('test site'));
  });
  after(() => hub.stop());

  it('POST /api/sites with 5.9 MB of nested JSON and no cookie is answered 401 without parsing', async () => {
    const response = await fetch(`${hub.url}/api/sites`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: NESTED_BOMB });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'unauthenticated');
    // The hub is still serving.
    assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
  });

  it('every session route answers 401 to a body announced without a cookie, before the body is sent', async () => {
    // 32 KiB is within every route's size limit, so only the session check can answer before the body.
    for (const [method, path, contentType] of SESSION_BODY_ROUTES) {
      const answer = await sendHeadOnly(hub.url, method, path, { 'content-type': contentType, 'content-length': String(32 * 1024) });
      assert.equal(answer.status, 401, `${method} ${path}`);
    }
  });

  it('a forged or expired session cookie gets the same 401 before the body is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', '/api/sites', {
      'content-type': 'application/json', 'content-length': String(32 * 1024), cookie: `moat_session=${'A'.repeat(43)}`,
    });
    assert.equal(answer.status, 401);
  });

  it('upsync with a bad API key answers 401 to an announced 8 MB gzip body before it is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', '/v2/upsync/moat_not_a_key', {
      'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(8 * MB),
    });
    assert.equal(answer.status, 401);
  });

  it('upsync with a bad API key and a full nested body is answered 401', async () => {
    const response = await fetch(`${hub.url}/v2/upsync/moat_not_a_key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: NESTED_BOMB });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_api_key');
  });

  it('a body announced to a route that does not exist is answered 404 before it is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', '/api/nothing-here', { 'content-type': 'application/json', 'content-length': String(32 * 1024) });
    assert.equal(answer.status, 404);
  });

  it('the login form refuses an announced 1 MB body with 413 before it is sent', async () => {
    const answer = await sendHeadOnly(hub.url, 'POST', '/login', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(MB) });
    assert.equal(answer.status, 413);
  });

  it('the login route refuses a nested JSON body with 400 json_too_deep, not a parse', async () => {
    const response = await fetch(`${hub.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `${'['.repeat(5000)}${']'.repeat(5000)}` });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'json_too_deep');
  });

  it('the login route refuses a form of thousands of fields with 400 form_too_complex', async () => {
    const response = await fetch(`${hub.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=&'.repeat(5000) });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'form_too_complex');
  });

  it('signed in, a nesting bomb within the size limit gets 400 json_too_deep on the JSON API', async () => {
    const body = `{"name":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const response = await client.request('/api/sites', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-csrf-token': client.csrf } });
    assert.equal(response.status, 400);
    const answer = (await response.json()) as { error: string; message: string };
    assert.equal(answer.error, 'json_too_deep');
    assert.match(answer.message, /deeper than 32 levels/);
  });

  it('signed in, the rules import refuses an object of 50 000 keys with 400 json_too_complex', async () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `"k${i}":0`).join(',');
    const body = `{"document":{${keys}}}`;
    const response = await client.request(`/api/sites/${siteId}/rules/import`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-csrf-token': client.csrf } });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'json_too_complex');
  });

  it('signed in, a 200 KiB body to POST /api/sites is refused 413 (the JSON API takes 64 KiB)', async () => {
    const response = await client.api('POST', '/api/sites', { name: 'x'.repeat(200 * 1024) });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: string }).error, 'body_too_large');
  });

  it('signed in, a body in a content type no route takes is refused 415', async () => {
    const response = await client.request('/api/sites', { method: 'POST', body: '<site/>', headers: { 'content-type': 'application/xml', 'x-csrf-token': client.csrf } });
    assert.equal(response.status, 415);
  });

  it('the hub still serves an ordinary signed-in change and a valid upsync after all of the above', async () => {
    assert.equal((await client.api('POST', '/api/sites', { name: 'after the attacks' })).status, 201);
    const up = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ meta: {}, batch: [{ ip: '192.0.2.1', timestamp: Math.floor(Date.now() / 1000), treatment: 'Passed' }] }),
    });
    assert.equal(up.status, 200);
  });
});
