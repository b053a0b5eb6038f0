import { html } from '../html.js';
import { layout } from '../layout.js';

export function loginPage(input: { csrf: string; next: string; email?: string; error?: string }): string {
  const body = html`<section class="narrow card">
  <h1>Sign in</h1>
  <form method="post" action="/login" class="stack">
    <input type="hidden" name="_csrf" value="${input.csrf}">
    <input type="hidden" name="next" value="${input.next}">
    <label>Email <input type="email" name="email" autocomplete="username" required value="${input.email ?? ''}"></label>
    <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
  </form>
</section>`;
  return layout({ title: 'Sign in', body, error: input.error });
}
