import { strict as assert } from 'node:assert';
import { Client } from './hub-fixture.js';

export const NEW_PASSWORD = 'a passphrase of my own';

/**
 * Invites a user through the JSON API as `admin`, then signs them in with the one-time password and
 * replaces it, as a real invited user does; returns their client (session and CSRF token loaded).
 */
export async function inviteAndSignIn(
  admin: Client, email: string, access: { role: 'admin' | 'viewer'; siteIds: number[] },
): Promise<{ client: Client; userId: number }> {
  const invited = await admin.api('POST', '/api/users', { email, ...access });
  assert.equal(invited.status, 201, await invited.clone().text());
  const body = (await invited.json()) as { user: { id: number }; oneTimePassword: string };
  const client = new Client(admin.base);
  assert.equal((await client.login(email, body.oneTimePassword)).status, 303);
  const changed = await client.request('/account/password', {
    method: 'POST', form: { _csrf: client.csrf, current: body.oneTimePassword, password: NEW_PASSWORD },
  });
  assert.equal(changed.status, 303, await changed.clone().text());
  const me = await client.request('/api/me');
  client.csrf = ((await me.json()) as { csrfToken: string }).csrfToken;
  return { client, userId: body.user.id };
}
