import { html, formatTime, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { PassedSampling, ReportPage, Site } from '../../store/store.js';

export interface RequestsFilterForm {
  treatment?: string;
  ip?: string;
  path?: string;
  rule?: string;
  from?: string;
  to?: string;
}

export function requestsPage(input: {
  user: { email: string; csrfToken: string }; site: Site; sites: Site[]; filter: RequestsFilterForm; page: ReportPage; error?: string;
  /** Passed requests in the filter's time range and how many arrived only as counts. */
  passed?: PassedSampling;
}): string {
  const { site, filter, page } = input;
  const base = `/sites/${site.id}/requests`;
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v) as [string, string][]);
  const nextQuery = new URLSearchParams(query);
  if (page.next) nextQuery.set('before', page.next);
  const body = html`<h1>Requests</h1>
<form method="get" action="${base}" class="filters">
  <label>Treatment <select name="treatment">
    ${['', 'Blocked', 'Allowed', 'Passed'].map((t) => html`<option value="${t}" ${filter.treatment === t ? html`selected` : ''}>${t || 'Any'}</option>`)}
  </select></label>
  <label>IP <input name="ip" value="${filter.ip ?? ''}" maxlength="64" size="16"></label>
  <label>Path starts with <input name="path" value="${filter.path ?? ''}" maxlength="512" size="16"></label>
  <label>Rule or rule id <input name="rule" value="${filter.rule ?? ''}" maxlength="512" size="14"></label>
  <label>From (UTC) <input type="datetime-local" name="from" value="${filter.from ?? ''}"></label>
  <label>To (UTC) <input type="datetime-local" name="to" value="${filter.to ?? ''}"></label>
  <button type="submit">Filter</button>
  <a href="${base}">Clear</a>
</form>
${sampledNote(input.passed, filter)}
<div class="table-wrap"><table class="data log">
  <thead><tr><th>Time</th><th>Treatment</th><th>IP</th><th>Method</th><th>Host</th><th>Path</th><th>Parameters</th><th>User agent</th><th>Rule</th><th>Monitored</th></tr></thead>
  <tbody>
  ${page.rows.length === 0 ? html`<tr><td colspan="10" class="empty">No requests match.</td></tr>` : ''}
  ${page.rows.map((r) => html`<tr class="t-${r.treatment.toLowerCase()}">
    <td class="nowrap">${formatTime(r.ts)}</td>
    <td>${r.treatment}</td>
    <td class="nowrap"><a href="/sites/${site.id}/ips/${encodeURIComponent(r.ip)}" data-ip-link>${r.ip}</a>${r.country ? html` <small>${r.country}</small>` : ''}</td>
    <td>${r.method}</td>
    <td>${r.host}</td>
    <td class="clip">${r.path}</td>
    <td class="clip">${r.parameter}</td>
    <td class="clip">${r.userAgent}</td>
    <td>${r.treatment === 'Passed' ? '' : html`<code>${r.category}</code> ${r.rule}${r.ruleId ? html` <small>(${r.ruleId})</small>` : ''}`}</td>
    <td>${(r.monitored ?? []).map((m) => html`<div><code>${m.category}</code> ${m.rule}${m.rule_id ? html` <small>(${m.rule_id})</small>` : ''}</div>`)}</td>
  </tr>`)}
  </tbody>
</table></div>
<nav class="pager">
  ${input.page.partial ? html`<span class="hint">Searched part of the range; continue to look further back.</span>` : ''}
  ${page.next ? html`<a href="${base}?${nextQuery.toString()}" rel="next">${input.page.partial ? 'Continue searching' : 'Older'} →</a>` : html`<span class="hint">End of log.</span>`}
  <a href="${base}?${query.toString()}">Newest</a>
</nav>`;
  return layout({ title: 'Requests', body, user: input.user, site, sites: input.sites, active: 'requests', error: input.error });
}

/**
 * Said plainly when the log holds a sample of Passed requests: clients in managed mode count most
 * Passed requests instead of sending each (the totals include them; this log cannot list them).
 */
function sampledNote(passed: PassedSampling | undefined, filter: RequestsFilterForm): Html | string {
  if (passed === undefined || passed.counted <= 0) return '';
  if (filter.treatment === 'Blocked' || filter.treatment === 'Allowed') return '';
  const shown = Math.max(0, passed.passed - passed.counted);
  return html`<p class="hint" data-passed-sampled>Passed requests are sampled: ${shown.toLocaleString('en-US')} shown of
  ${passed.passed.toLocaleString('en-US')} in this time range. The others were reported as counts per client, path and
  user agent; every total and top list includes them.</p>`;
}
