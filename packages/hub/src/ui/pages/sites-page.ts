import { html, formatTime } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Site } from '../../store/store.js';

export function sitesPage(input: { user: { email: string; csrfToken: string }; sites: Site[]; notice?: string; error?: string }): string {
  const body = html`<h1>Sites</h1>
<div class="table-wrap"><table class="data">
  <thead><tr><th>Site</th><th>Created</th></tr></thead>
  <tbody>
  ${input.sites.length === 0 ? html`<tr><td colspan="2">No site yet: create one below.</td></tr>` : ''}
  ${input.sites.map((s) => html`<tr><td><a href="/sites/${s.id}">${s.name}</a></td><td>${formatTime(s.createdAt)}</td></tr>`)}
  </tbody>
</table></div>
<section class="card narrow">
  <h2>New site</h2>
  <form method="post" action="/sites" class="stack">
    ${csrfField(input.user.csrfToken)}
    <label>Name <input name="name" required maxlength="100" placeholder="shop.example.com"></label>
    <button type="submit">Create site</button>
  </form>
</section>`;
  return layout({ title: 'Sites', body, user: input.user, sites: input.sites, notice: input.notice, error: input.error });
}
