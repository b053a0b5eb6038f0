import { html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Role, Site } from '../../store/store.js';

export function accountPage(input: {
  user: { email: string; csrfToken: string; role?: Role }; mustChange: boolean; sites: Site[]; notice?: string; error?: string;
}): string {
  const body = html`<section class="narrow card">
  <h1>Account</h1>
  <p>Signed in as <strong>${input.user.email}</strong>.</p>
  ${input.mustChange ? html`<p class="notice">You signed in with a one-time password. Choose your own to continue.</p>` : ''}
  <form method="post" action="/account/password" class="stack">
    ${csrfField(input.user.csrfToken)}
    <label>Current password <input type="password" name="current" autocomplete="current-password" required></label>
    <label>New password (at least 10 characters) <input type="password" name="password" autocomplete="new-password" minlength="10" required></label>
    <button type="submit">Change password</button>
  </form>
</section>`;
  return layout({ title: 'Account', body, user: input.user, sites: input.sites, notice: input.notice, error: input.error });
}
