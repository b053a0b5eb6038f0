import { formatRateLimitKey } from 'moat-waf';
import { html, formatNumber, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import { previewControls, previewPanel } from './preview-controls.js';
import type { HubStore, RulesBuild, Site, StoredRule } from '../../store/store.js';
import { KIND_LABELS, ruleFilter } from '../../rules/rule-filter.js';
import type { RuleHitCount } from '../../rules/rule-hits.js';
import type { RangeName } from '../../stats/time-range.js';
import type { RuleFormErrors, RuleFormField } from '../routes/rule-form-check.js';

export { KIND_LABELS };

/** Rules shown per page: a site may hold 10 000, and the whole list was 9 MB of HTML and 0.4 s on the event loop. */
export const RULES_PER_PAGE = 500;

/** What the Rules page lists: `q` filters (value, note, kind), `rule` picks the page holding that rule, else `page`. */
export interface RuleListQuery {
  q?: string;
  page?: number;
  rule?: string;
}

/** One page of the site's rules, with where it sits among the matching ones. */
export interface RuleListPage {
  rules: StoredRule[];
  query: RuleListQuery;
  /** Rules matching the filter, and the first one's 0-based index on this page. */
  matching: number;
  offset: number;
  page: number;
  pages: number;
}

/**
 * One page of the site's rules, read from the store page by page (a site may hold 10 000: reading them
 * all for each view held the hub's event loop 100-150 ms).
 */
export async function pageOfRules(store: Pick<HubStore, 'countRules' | 'rulesPage' | 'ruleIndex'>, siteId: number, query: RuleListQuery): Promise<RuleListPage> {
  const filter = ruleFilter(query.q);
  const matching = await store.countRules(siteId, filter);
  const pages = Math.max(1, Math.ceil(matching / RULES_PER_PAGE));
  const at = query.rule === undefined ? -1 : await store.ruleIndex(siteId, query.rule, filter);
  const page = at >= 0 ? Math.floor(at / RULES_PER_PAGE) + 1 : Math.min(Math.max(1, query.page ?? 1), pages);
  const offset = (page - 1) * RULES_PER_PAGE;
  const { rules } = await store.rulesPage(siteId, filter, { offset }, RULES_PER_PAGE);
  return { rules, query: { q: filter.search === undefined ? undefined : query.q }, matching, offset, page, pages };
}

/** The link to a rule's row on the Rules page, whichever page it is on. */
export function ruleLink(siteId: number, ruleId: string): string {
  return `/sites/${siteId}/rules?rule=${encodeURIComponent(ruleId)}#rule-${ruleId}`;
}

export function rulesPage(input: {
  user: { email: string; csrfToken: string }; site: Site; sites: Site[]; list: RuleListPage; total: number;
  hits: Map<string, RuleHitCount>; hitsRange: RangeName; builds: { moat?: RulesBuild; wafris?: RulesBuild };
  now: number; notice?: string; error?: string;
  /** The add-rule form as posted, with errors by field, when it was refused. */
  form?: RuleFormState;
  /** The site's recent changes from the audit log (see audit-page.ts). */
  audit?: Html;
  /** The attack-detection settings section (attacks-panel.ts). */
  attacks?: Html;
  /** The bot settings section (rules-bots.ts). */
  bots?: Html;
}): string {
  const { site, user } = input;
  const base = `/sites/${site.id}/rules`;
  const body = html`<div class="page-head"><h1>Rules</h1>
  <a class="button" href="/api/sites/${site.id}/rules/export" download="rules-site-${site.id}.json">Export JSON</a>
</div>
<p class="hint">Compiled files: Moat <code>${input.builds.moat?.fileName ?? '—'}</code>, Wafris <code>${input.builds.wafris?.fileName ?? '—'}</code>. Hits over the last ${input.hitsRange}.</p>
<div class="table-wrap"><table class="data rules">
  <thead><tr><th>Action</th><th>Kind</th><th>Value</th><th>Mode</th><th>Note</th><th>Expires</th><th class="num">Hits</th><th class="num">Would have blocked</th><th></th></tr></thead>
  <tbody>
  ${input.list.rules.length === 0 ? html`<tr><td colspan="9" class="empty">${input.total === 0 ? 'No rules yet.' : 'No rule matches the search.'}</td></tr>` : ''}
  ${input.list.rules.map((r) => ruleRow(base, user.csrfToken, r, input.hits.get(r.id), input.now))}
  </tbody>
</table></div>
${input.total > RULES_PER_PAGE || input.list.query.q !== undefined ? rulePager(base, input.list, input.total) : ''}

<section class="card" id="add-rule">
  <h2>Add a rule</h2>
  ${addRuleForm(base, user.csrfToken, input.form)}
</section>

<section class="card">
  <h2>Import a rules document</h2>
  <form method="post" action="${base}/import" enctype="application/x-www-form-urlencoded" class="stack">
    ${csrfField(user.csrfToken)}
    <label>JSON or YAML <textarea name="document" rows="8" required placeholder='{"block": {"ips": ["203.0.113.7"], "paths": ["/wp-admin"]}, "rateLimits": [{"path": "/login", "limit": 10, "window": "1m"}]}'></textarea></label>
    <label class="inline"><input type="checkbox" name="replace" value="1"> Replace all rules of this site (otherwise add and overwrite same ids)</label>
    <button type="submit">Import</button>
  </form>
</section>
${input.attacks ?? ''}
${input.bots ?? ''}
${input.audit ?? ''}`;
  return layout({ title: 'Rules', body, user, site, sites: input.sites, active: 'rules', notice: input.notice, error: input.error });
}

/** Search and page links, shown once a site has more rules than one page holds (or a search is on). */
function rulePager(base: string, list: RuleListPage, total: number): Html {
  const href = (page: number) => {
    const params = new URLSearchParams();
    if (list.query.q !== undefined) params.set('q', list.query.q);
    params.set('page', String(page));
    return `${base}?${params.toString()}#rules-pager`;
  };
  const shown = list.rules.length === 0 ? 'none' : `${formatNumber(list.offset + 1)}–${formatNumber(list.offset + list.rules.length)}`;
  return html`<nav class="pager" id="rules-pager" data-rules-pager>
  <span data-rules-shown>Rules ${shown} of ${formatNumber(list.matching)}${list.query.q !== undefined ? html` matching, ${formatNumber(total)} in all` : ''}</span>
  ${list.page > 1 ? html`<a href="${href(list.page - 1)}" rel="prev">← Previous</a>` : ''}
  ${list.page < list.pages ? html`<a href="${href(list.page + 1)}" rel="next">Next →</a>` : ''}
  <form method="get" action="${base}#rules-pager" class="inline" role="search">
    <label>Find <input type="search" name="q" value="${list.query.q ?? ''}" maxlength="200" placeholder="value, note or kind"></label>
    <button type="submit" class="small">Search</button>
    ${list.query.q !== undefined ? html`<a href="${base}">Show all</a>` : ''}
  </form>
</nav>`;
}

function ruleRow(base: string, csrf: string, r: StoredRule, hits: RuleHitCount | undefined, now: number): Html {
  const expired = r.expires !== undefined && r.expires <= now;
  const rl = r.rateLimit;
  return html`<tr data-rule-id="${r.id}" id="rule-${r.id}" class="${expired ? 'expired' : ''}">
    <td>${r.action}</td>
    <td>${KIND_LABELS[r.kind] ?? r.kind}</td>
    <td><code>${r.value}</code>${rl ? html` <small>${rl.limit} per ${rl.windowMs / 1000}s${rl.method ? ` (${rl.method})` : ''} per ${formatRateLimitKey(rl.key)}</small>` : ''}</td>
    <td>
      <form method="post" action="${base}/${encodeURIComponent(r.id)}/mode" class="inline">
        ${csrfField(csrf)}
        <input type="hidden" name="mode" value="${r.mode === 'block' ? 'monitor' : 'block'}">
        <span class="mode mode-${r.mode}">${r.mode}</span>
        <button type="submit" class="small">${r.mode === 'block' ? 'Monitor' : 'Block'}</button>
      </form>
    </td>
    <td>${r.note ?? ''}</td>
    <td>${r.expires !== undefined ? `${new Date(r.expires).toISOString().slice(0, 16).replace('T', ' ')}${expired ? ' (expired)' : ''}` : ''}</td>
    <td class="num">${formatNumber(hits?.hits ?? 0)}</td>
    <td class="num">${r.mode === 'monitor' ? formatNumber(hits?.wouldBlock ?? 0) : ''}</td>
    <td>
      <form method="post" action="${base}/${encodeURIComponent(r.id)}/delete" class="inline">
        ${csrfField(csrf)}
        <button type="submit" class="small danger" data-confirm="Delete this rule?">Delete</button>
      </form>
    </td>
  </tr>`;
}

export interface RuleFormState {
  values: Record<string, string>;
  errors: RuleFormErrors;
}

/**
 * The add-rule form. A refused form comes back with what was typed and each error beside its field
 * (linked with aria-describedby); the rate-limit fields are hidden unless the kind is a rate limit.
 */
function addRuleForm(base: string, csrf: string, state: RuleFormState | undefined): Html {
  const values = state?.values ?? {};
  const errors = state?.errors ?? {};
  const kind = values.kind ?? 'ip';
  const rate = kind === 'rateLimit';
  const field = (name: RuleFormField, control: Html) => html`${control}${errors[name] ? html`<span class="field-error" id="error-${name}" data-error-for="${name}">${errors[name]}</span>` : ''}`;
  const input = (name: RuleFormField, attrs: Html, type = 'text') => field(name, html`<input name="${name}" type="${type}" value="${values[name] ?? ''}" ${attrs}
    ${errors[name] ? html`aria-invalid="true" aria-describedby="error-${name}"` : ''}>`);
  const option = (name: string, value: string, label: string) => html`<option value="${value}" ${values[name] === value ? html`selected` : ''}>${label}</option>`;
  return html`<form method="post" action="${base}" class="rule-form" novalidate>
    ${csrfField(csrf)}
    <label>Action <select name="action">${option('action', 'block', 'Block')}${option('action', 'allow', 'Allow (IP rules only)')}</select></label>
    <label>Kind <select name="kind" data-rule-kind>
      ${Object.entries(KIND_LABELS).map(([k, label]) => option('kind', k, label))}
    </select></label>
    <label data-for-kind="value" ${rate ? html`hidden` : ''}>Value ${input('value', html`maxlength="1024" placeholder="203.0.113.0/24, KP, tor, curl, /wp-admin …"`)}</label>
    <fieldset data-for-kind="rateLimit" class="rate" ${rate ? '' : html`hidden`}>
      <legend>Rate limit</legend>
      <label>Path ${input('rl_path', html`maxlength="1024" placeholder="/login or /api/*"`)}</label>
      <label>Method ${input('rl_method', html`maxlength="20" placeholder="any"`)}</label>
      <label>Limit ${input('rl_limit', html`min="1" placeholder="10"`, 'number')}</label>
      <label>Window ${input('rl_window', html`maxlength="20" placeholder="1m"`)}</label>
      <label>Count by <select name="rl_key_by">${option('rl_key_by', 'ip', 'Client IP')}${option('rl_key_by', 'header', 'Header')}${option('rl_key_by', 'cookie', 'Cookie')}${option('rl_key_by', 'user', 'User id (the app\'s user option)')}</select></label>
      <label>Header or cookie name ${input('rl_key_name', html`maxlength="64" placeholder="x-api-key or session"`)}</label>
      <small>A request without the header, cookie or user id is counted by its IP.</small>
    </fieldset>
    <label>Mode <select name="mode">${option('mode', 'block', 'Block')}${option('mode', 'monitor', 'Monitor (report only)')}</select></label>
    <label>Note ${input('note', html`maxlength="500"`)}</label>
    <label>Expires (UTC) ${input('expires', html``, 'datetime-local')}</label>
    ${previewControls('data-rule-preview', `/api${base}/preview`)}
    <button type="submit">Add rule</button>
  </form>
  ${previewPanel('rule-preview')}`;
}

