import { html, formatNumber, jsonData, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { Role, Site, StoredRule, TopDimension, TopEntry } from '../../store/store.js';
import type { Overview } from '../../stats/overview.js';
import { TOP_LISTS } from '../../stats/overview.js';
import { RANGE_NAMES, type RangeName } from '../../stats/time-range.js';
import type { QuickBlockKind } from '../../rules/quick-block.js';
import { perStepLabel } from '../../stats/series.js';
import { ruleCoverage, type RuleCoverage } from '../rule-coverage.js';
import { quickActions } from './quick-actions.js';

/** The rule kind a one-click button creates for a top-list value. */
const RULE_KIND_FOR: Partial<Record<TopDimension, QuickBlockKind>> = { ip: 'ip', path: 'path', userAgent: 'userAgent', country: 'country' };
/** The request-log filter a top-list value links to. */
const FILTER_FOR: Partial<Record<TopDimension, string>> = { ip: 'ip', path: 'path' };

export interface OverviewPageInput {
  user: { email: string; csrfToken: string; role?: Role };
  site: Site;
  sites: Site[];
  range: RangeName;
  overview: Overview;
  top: Record<TopDimension, TopEntry[]>;
  countryLookup: boolean;
  /** Rule id → what a rate-limit rule limits, for the rules-hit table. */
  rateLimitLabels?: ReadonlyMap<string, string>;
  /** The site's rules, to show which listed values are already blocked or monitored. */
  rules: readonly StoredRule[];
  /** Milliseconds, for rule expiry. */
  now: number;
  notice?: string;
  error?: string;
}

export function overviewPage(input: OverviewPageInput): string {
  const { site, overview, range } = input;
  const t = overview.totals;
  const coverage = ruleCoverage(input.rules, input.now);
  const base = `/sites/${site.id}`;
  const body = html`<div class="page-head">
  <h1>${site.name}</h1>
  <nav class="ranges" aria-label="Time range">
    ${RANGE_NAMES.map((r) => html`<a href="${base}?range=${r}" ${r === range ? html`aria-current="true"` : ''}>${r}</a>`)}
  </nav>
  <label class="live"><input type="checkbox" id="live" checked> Live</label>
</div>
<section class="stats" aria-label="Totals">
  <div class="stat"><span class="label">Requests</span><span class="value" data-stat="total">${formatNumber(t.total)}</span></div>
  <div class="stat blocked"><span class="label">Blocked</span><span class="value" data-stat="blocked">${formatNumber(t.blocked)}</span></div>
  <div class="stat allowed"><span class="label">Allowed</span><span class="value" data-stat="allowed">${formatNumber(t.allowed)}</span></div>
  <div class="stat"><span class="label">Passed</span><span class="value" data-stat="passed">${formatNumber(t.passed)}</span></div>
  <div class="stat"><span class="label">Would have blocked</span><span class="value" data-stat="monitored">${formatNumber(t.monitored)}</span></div>
  <div class="stat"><span class="label">Unique IPs</span><span class="value" data-stat="uniqueIps">${formatNumber(overview.uniqueIps)}</span></div>
</section>
<section class="chart-card card">
  <h2 class="chart-unit" data-chart-unit>${perStepLabel(overview.series.step)}</h2>
  <div id="traffic-chart" data-unit="${perStepLabel(overview.series.step)}" data-url="/api/sites/${site.id}/stats/overview?range=${range}" aria-label="Requests over time"></div>
  <script type="application/json" id="traffic-data">${jsonData(overview)}</script>
</section>
<p class="hint">Top lists count whole hours from ${new Date(Math.floor(overview.window.from / 3600) * 3600 * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC.${
  TOP_LISTS.some(({ dim }) => input.top[dim].some((r) => r.lowBy)) ? html` Over this range they are summed from each hour's and each day's 100 largest values: a count marked ≥ may be low, by at most what its tooltip says.` : ''}</p>
<div class="top-grid">
${TOP_LISTS.map(({ dim, title }) => topTable(input, coverage, dim, title))}
</div>`;
  return layout({ title: site.name, body, user: input.user, site, sites: input.sites, active: 'overview', notice: input.notice, error: input.error });
}

function topTable(input: OverviewPageInput, coverage: RuleCoverage, dim: TopDimension, title: string): Html {
  const rows = input.top[dim];
  const kind = RULE_KIND_FOR[dim];
  const base = `/sites/${input.site.id}`;
  const back = `${base}?range=${input.range}`;
  return html`<section class="card top-list" data-top="${dim}">
  <h2>${title}</h2>
  <div class="table-wrap"><table class="data">
    <thead><tr><th>${dim === 'rule' ? 'Rule' : 'Value'}</th><th class="num">Requests</th><th class="num">Blocked</th>${kind ? html`<th>Action</th>` : ''}</tr></thead>
    <tbody>
    ${rows.length === 0 ? html`<tr><td colspan="4" class="empty">${dim === 'country' && !input.countryLookup ? 'Countries show once a data file gives the hub a country lookup; until then only country blocks carry one.' : 'Nothing yet.'}</td></tr>` : ''}
    ${rows.map((r) => html`<tr>
      <td class="value">${valueCell(base, dim, r.value, input.rateLimitLabels)}</td>
      ${countCell(r.total, r.lowBy)}
      ${countCell(r.blocked, r.lowBy)}
      ${kind ? html`<td class="actions">${quickActions({ siteId: input.site.id, csrfToken: input.user.csrfToken, coverage, back, canEdit: input.user.role === undefined || input.user.role === 'admin' }, kind, r.value)}</td>` : ''}
    </tr>`)}
    </tbody>
  </table></div>
</section>`;
}

/** A count; one that may be low (`lowBy`, from hour and day summaries) is marked ≥ and says by how much. */
function countCell(count: number, lowBy: number | undefined): Html {
  return lowBy
    ? html`<td class="num" data-low-by="${lowBy}" title="${`up to ${formatNumber(lowBy)} more`}">≥ ${formatNumber(count)}</td>`
    : html`<td class="num">${formatNumber(count)}</td>`;
}

function valueCell(base: string, dim: TopDimension, value: string, rateLimitLabels?: ReadonlyMap<string, string>): Html {
  if (dim === 'rule') {
    const [category, rule] = value.split('\t');
    const label = category === 'brl' ? rateLimitLabels?.get(rule ?? '') : undefined;
    return html`<a href="${base}/requests?rule=${encodeURIComponent(rule ?? '')}"><code>${category}</code> ${label ?? rule}</a>`;
  }
  // An IP opens its own page (country, network, rules, timeline): the page for an incident.
  if (dim === 'ip') return html`<a href="${base}/ips/${encodeURIComponent(value)}" data-ip-link>${value}</a>`;
  const filter = FILTER_FOR[dim];
  return filter ? html`<a href="${base}/requests?${filter}=${encodeURIComponent(value)}">${value}</a>` : html`${value}`;
}
