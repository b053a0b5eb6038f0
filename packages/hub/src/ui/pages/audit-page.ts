import { html, formatTime, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { AuditEntry, AuditPage, Role, Site } from '../../store/store.js';
import type { AuditAction } from '../../audit/audit-log.js';

/** A label for every action the hub records: the type makes a new action without one a compile error. */
const ACTION_LABELS: Record<AuditAction, string> = {
  'rule.create': 'created rule', 'rule.update': 'changed rule', 'rule.delete': 'deleted rule', 'rule.import': 'imported rules',
  'rule.expire': 'rule expired', 'site.create': 'created site', 'key.create': 'created API key', 'key.revoke': 'revoked API key',
  'user.invite': 'invited user', 'user.update': 'changed user', 'user.remove': 'removed user', 'user.password': 'changed password',
  'auth.signin': 'signed in', 'auth.signin_failures': 'reached the sign-in failure limit', 'auth.signout': 'signed out',
  'feed.create': 'added feed', 'feed.update': 'changed feed', 'feed.delete': 'removed feed', 'feed.upload': 'uploaded feed file',
  'threshold.create': 'created threshold rule', 'threshold.update': 'changed threshold rule', 'threshold.delete': 'deleted threshold rule',
  'ban.lift': 'lifted ban', 'attacks.update': 'changed attack detection', 'bots.update': 'changed bot settings',
  'bots.catalogue.accept': 'accepted bot catalogue', 'bots.catalogue.hold': 'held bot catalogue for confirmation',
  'bots.catalogue.confirm': 'confirmed bot catalogue', 'bots.catalogue.dismiss': 'dismissed bot catalogue',
  'bots.catalogue.revert': 'reverted bot catalogue',
};

/** The whole audit log, newest first, a page at a time. Admins only. */
export function auditPage(input: {
  user: { email: string; csrfToken: string; role?: Role }; sites: Site[]; page: AuditPage; notice?: string; error?: string;
}): string {
  const siteName = new Map(input.sites.map((s) => [s.id, s.name]));
  const body = html`<h1>Audit log</h1>
<p class="hint">Every change to sites, API keys, users and rules: who, when, from which address, and what changed.</p>
${auditTable(input.page.entries, siteName)}
${input.page.next !== null ? html`<p><a class="button" href="/audit?before=${input.page.next}">Older entries</a></p>` : ''}`;
  return layout({ title: 'Audit log', body, user: input.user, sites: input.sites, notice: input.notice, error: input.error });
}

/** The Rules page's "Recent changes" section: the site's latest audit entries. */
export function ruleAuditSection(siteId: number, page: AuditPage): Html {
  return html`<section class="card rule-audit">
  <h2>Recent changes</h2>
  ${auditTable(page.entries, new Map())}
  ${page.next !== null ? html`<p class="hint"><a href="/api/sites/${siteId}/audit?before=${page.next}">Older entries (JSON)</a></p>` : ''}
</section>`;
}

function auditTable(entries: AuditEntry[], siteName: Map<number, string>): Html {
  const showSite = siteName.size > 0;
  return html`<div class="table-wrap"><table class="data audit">
  <thead><tr><th>When</th><th>Who</th><th>What</th>${showSite ? html`<th>Site</th>` : ''}<th>Change</th></tr></thead>
  <tbody>
  ${entries.length === 0 ? html`<tr><td colspan="${showSite ? 5 : 4}" class="empty">No changes recorded yet.</td></tr>` : ''}
  ${entries.map((e) => html`<tr data-audit-action="${e.action}">
    <td>${formatTime(e.at)}</td>
    <td>${e.userEmail}${e.ip ? html`<br><small>${e.ip}</small>` : ''}</td>
    <td>${ACTION_LABELS[e.action as AuditAction] ?? e.action}${e.target ? html` <code>${e.target}</code>` : ''}</td>
    ${showSite ? html`<td>${e.siteId === null ? '' : siteName.get(e.siteId) ?? `#${e.siteId}`}</td>` : ''}
    <td class="audit-change">${changeText(e.before, e.after)}</td>
  </tr>`)}
  </tbody>
</table></div>`;
}

/**
 * Before → after in words: for a change of one thing, only the fields that differ ("mode: monitor →
 * block"); otherwise the fields of whichever side there is. Details are JSON written by the hub.
 */
export function changeText(before: string | null, after: string | null): string {
  const b = parseDetail(before);
  const a = parseDetail(after);
  if (b && a) {
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])];
    const changed = keys.filter((k) => show(b[k]) !== show(a[k]));
    if (changed.length === 0) return 'no change';
    return changed.map((k) => `${k}: ${show(b[k]) || '—'} → ${show(a[k]) || '—'}`).join('; ');
  }
  const side = a ?? b;
  if (!side) return after ?? before ?? '';
  return Object.entries(side).map(([k, v]) => `${k}: ${show(v)}`).join('; ');
}

function parseDetail(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : null;
  } catch {
    return null; // cut at the length cap: shown as written
  }
}

function show(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
