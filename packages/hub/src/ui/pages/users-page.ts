import { html, formatTime, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Role, Site, User } from '../../store/store.js';

export interface UsersPageInput {
  user: { email: string; csrfToken: string; role?: Role };
  users: User[];
  sites: Site[];
  /** Set right after an invite: the one-time password, shown this once. */
  invited?: { email: string; oneTimePassword: string };
  notice?: string;
  error?: string;
}

const ROLE_HELP: Record<Role, string> = {
  admin: 'Admin: everything, on every site',
  viewer: 'Viewer: reads the sites ticked, changes nothing',
};

/** Users: invite, change role and sites, remove. Admins only (the access policy sees to it). */
export function usersPage(input: UsersPageInput): string {
  const csrf = input.user.csrfToken;
  const body = html`<h1>Users</h1>
${input.invited ? html`<section class="card notice" role="status">
  <p>Invited <strong>${input.invited.email}</strong>. Their one-time password, shown only now:</p>
  <p><code class="secret">${input.invited.oneTimePassword}</code></p>
  <p class="hint">Send it to them by a channel you trust; they must choose their own password when they first sign in.</p>
</section>` : ''}
<div class="table-wrap"><table class="data users">
  <thead><tr><th>Email</th><th>Role and sites</th><th>Since</th><th></th></tr></thead>
  <tbody>
  ${input.users.map((u) => html`<tr data-user-id="${u.id}">
    <td>${u.email}${u.mustChangePassword ? html` <small>(has not signed in yet)</small>` : ''}</td>
    <td>
      <form method="post" action="/users/${u.id}/access" class="stack">
        ${csrfField(csrf)}
        ${roleSelect(u.role)}
        ${siteChoices(input.sites, u.siteIds)}
        <button type="submit" class="small">Save</button>
      </form>
      ${u.role === 'viewer' && u.siteIds.length === 0 ? html`<small>No site granted yet: this viewer sees nothing.</small>` : ''}
    </td>
    <td>${formatTime(u.createdAt)}</td>
    <td>
      <form method="post" action="/users/${u.id}/remove" class="inline">
        ${csrfField(csrf)}
        <button type="submit" class="small danger" data-confirm="Remove ${u.email}? Their sessions end at once.">Remove</button>
      </form>
    </td>
  </tr>`)}
  </tbody>
</table></div>
<section class="card narrow">
  <h2>Invite a user</h2>
  <form method="post" action="/users" class="stack">
    ${csrfField(csrf)}
    <label>Email <input name="email" type="email" required maxlength="254"></label>
    ${roleSelect('viewer')}
    ${siteChoices(input.sites, [])}
    <button type="submit">Invite</button>
  </form>
  <p class="hint">The hub makes a one-time password and shows it once, here; the user replaces it at first sign-in.</p>
</section>`;
  return layout({ title: 'Users', body, user: input.user, sites: input.sites, notice: input.notice, error: input.error });
}

function roleSelect(current: Role): Html {
  return html`<label>Role <select name="role">
    ${(['viewer', 'admin'] as const).map((r) => html`<option value="${r}" ${r === current ? html`selected` : ''}>${ROLE_HELP[r]}</option>`)}
  </select></label>`;
}

function siteChoices(sites: Site[], granted: number[]): Html {
  if (sites.length === 0) return html``;
  return html`<fieldset class="sites-granted"><legend>Sites a viewer may read</legend>
    ${sites.map((s) => html`<label class="inline"><input type="checkbox" name="site_${s.id}" value="1" ${granted.includes(s.id) ? html`checked` : ''}> ${s.name}</label>`)}
  </fieldset>`;
}
