// Attacks on the hub's attack-detection settings: someone who may not change them tries to switch SQL
// injection detection off for a site (a viewer, a viewer of another site, a forged cross-site form without
// the CSRF token, an oversized exclusion list), and an attacker's snippet tries to run script on the
// operator's Attacks page. Every attempt must fail and leave the site's settings as they were.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startHubWithSite, createSiteWithKey, upsyncBody, record, type Client, type TestHub } from '../support/hub-fixture.js';
import { inviteAndSignIn } from '../support/invited-user.js';

const FORM_OFF = { mode_sqli: 'off', mode_xss: 'off', mode_traversal: 'off', mode_shell: 'off', mode_ssrf: 'off', mode_nosql: 'off', mode_prototype: 'off', mode_template: 'off', exclusions: '' };

describe('attack settings cannot be changed by those who may not', () => {
  let hub: TestHub;
  let admin: Client;
  let siteId: number;
  let apiKey: string;
  let otherSite: number;

  before(async () => {
    ({ hub, client: admin, siteId, apiKey } = await startHubWithSite('guarded'));
    otherSite = (await createSiteWithKey(admin, 'other')).siteId;
    const saved = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: admin.csrf, ...FORM_OFF, mode_sqli: 'block' } });
    assert.equal(saved.status, 303);
  });
  after(() => hub.stop());

  const sqliMode = async () => ((await (await admin.request(`/api/sites/${siteId}/rules/export`)).json()) as { attacks: { sqli: string } }).attacks.sqli;

  it('a viewer of the site cannot switch SQL injection detection off (403), but may read the Attacks page', async () => {
    const { client: viewer } = await inviteAndSignIn(admin, 'viewer@example.test', { role: 'viewer', siteIds: [siteId] });
    assert.equal((await viewer.request(`/sites/${siteId}/attacks`)).status, 200);
    const res = await viewer.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: viewer.csrf, ...FORM_OFF } });
    assert.equal(res.status, 403);
    assert.equal(await sqliMode(), 'block');
  });

  it("a viewer of another site gets 404 for this site's Attacks page and form", async () => {
    const { client: outsider } = await inviteAndSignIn(admin, 'outsider@example.test', { role: 'viewer', siteIds: [otherSite] });
    assert.equal((await outsider.request(`/sites/${siteId}/attacks`)).status, 404);
    const res = await outsider.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: outsider.csrf, ...FORM_OFF } });
    assert.ok(res.status === 403 || res.status === 404, String(res.status));
    assert.equal(await sqliMode(), 'block');
  });

  it("a forged cross-site form with the admin's session but without the CSRF token is refused", async () => {
    const res = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: FORM_OFF });
    assert.equal(res.status, 403);
    const crossSite = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: admin.csrf, ...FORM_OFF }, headers: { origin: 'https://evil.example' } });
    assert.equal(crossSite.status, 403);
    assert.equal(await sqliMode(), 'block');
  });

  it('an exclusion list of 10,000 lines is refused with a 400, nothing stored', async () => {
    const exclusions = Array.from({ length: 10_000 }, (_, i) => `/p${i} sqli`).join('\n');
    const res = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: admin.csrf, ...FORM_OFF, mode_sqli: 'off', exclusions } });
    assert.ok(res.status === 400 || res.status === 413, String(res.status));
    assert.equal(await sqliMode(), 'block');
  });

  it('a headers field of 100,000 names, or of names that are not header names, is refused with a 400, nothing stored', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => `x-h${i}`).join(',');
    const res = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: admin.csrf, ...FORM_OFF, headers: many } });
    assert.ok(res.status === 400 || res.status === 413, String(res.status));
    const markup = await admin.request(`/sites/${siteId}/attacks`, { method: 'POST', form: { _csrf: admin.csrf, ...FORM_OFF, headers: 'x-a,"><script>alert(1)</script>' } });
    assert.equal(markup.status, 400);
    assert.ok(!(await markup.text()).includes('<script>alert'), 'the refused name is shown as text');
    assert.equal(await sqliMode(), 'block');
  });

  it("a reported snippet carrying <script> is shown as text on the operator's Attacks page", async () => {
    const snippet = '"><script>alert(document.cookie)</script>';
    const response = await fetch(`${hub.url}/v2/upsync/${apiKey}`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(upsyncBody([record({ treatment: 'Blocked', category: 'attack-xss', rule: `query.q: ${snippet}`, rule_id: 'attacks.xss', request_id: 'x1' })])),
    });
    assert.equal(response.status, 200);
    const page = await (await admin.request(`/sites/${siteId}/attacks`)).text();
    assert.ok(!page.includes('<script>alert'), 'the snippet is not markup');
    assert.ok(page.includes('&lt;script&gt;alert(document.cookie)&lt;/script&gt;'), 'the snippet is shown escaped');
  });
});
