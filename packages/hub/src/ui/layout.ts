import type { Role, Site } from '../store/store.js';
import { html, type Html } from './html.js';

export type SitePage = 'overview' | 'requests' | 'rules' | 'thresholds' | 'clients' | 'setup' | 'attacks';

export interface LayoutInput {
  title: string;
  body: Html;
  /** Absent on the login page. */
  /** `role` shows the admin links (Users, Audit log); pages that omit it show none. */
  user?: { email: string; csrfToken: string; role?: Role };
  site?: Site;
  sites?: Site[];
  active?: SitePage;
  notice?: string;
  error?: string;
}

const SITE_TABS: ReadonlyArray<{ page: SitePage; label: string; path: string }> = [
  { page: 'overview', label: 'Overview', path: '' },
  { page: 'requests', label: 'Requests', path: '/requests' },
  { page: 'rules', label: 'Rules', path: '/rules' },
  { page: 'attacks', label: 'Attacks', path: '/attacks' },
  { page: 'thresholds', label: 'Thresholds', path: '/thresholds' },
  { page: 'clients', label: 'Clients', path: '/clients' },
  { page: 'setup', label: 'Setup', path: '/setup' },
];

/** The page frame: header with site switcher and tabs, notices, content. No inline scripts or styles (CSP). */
export function layout(input: LayoutInput): string {
  const { user, site, sites } = input;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${input.title} · Moat hub</title>
<link rel="stylesheet" href="/assets/hub.css">
<link rel="stylesheet" href="/assets/uPlot.min.css">
${user ? html`<meta name="csrf-token" content="${user.csrfToken}">` : ''}
</head>
<body>
<header class="top">
  <a class="brand" href="/">Moat hub</a>
  ${sites && sites.length > 0 ? html`<nav class="sites" aria-label="Sites">
    <form method="get" action="/sites/go" class="site-switch">
      <select name="site" data-autosubmit aria-label="Site">
        ${sites.map((s) => html`<option value="${s.id}" ${site?.id === s.id ? html`selected` : ''}>${s.name}</option>`)}
      </select>
      <noscript><button type="submit">Go</button></noscript>
    </form>
    <a href="/sites">All sites</a>
  </nav>` : ''}
  ${user ? html`<nav class="user">
    ${user.role === 'admin' ? html`<a href="/users">Users</a> <a href="/audit">Audit log</a>` : ''}
    ${user.role === 'admin' ? html`<a href="/data">Data</a>` : ''}
    <a href="/account">${user.email}</a>
    <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${user.csrfToken}"><button type="submit" class="link">Sign out</button></form>
  </nav>` : ''}
</header>
${site ? html`<nav class="tabs" aria-label="Site pages">
  ${SITE_TABS.map((t) => html`<a href="/sites/${site.id}${t.path}" ${input.active === t.page ? html`aria-current="page"` : ''}>${t.label}</a>`)}
</nav>` : ''}
<main>
${input.notice ? html`<p class="notice" role="status">${input.notice}</p>` : ''}
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${input.body}
</main>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/hub.js"></script>
</body>
</html>`.text;
}

/** A hidden CSRF field for forms. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}
