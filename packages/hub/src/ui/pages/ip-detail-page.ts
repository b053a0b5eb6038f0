import { html, formatNumber, formatTime, type Html } from '../html.js';
import { layout } from '../layout.js';
import type { Role, Site, StoredReport, StoredRule, ValueHour } from '../../store/store.js';
import { kindName } from '../../rules/rule-breadth.js';
import { ruleLink } from './rules-page.js';
import type { RuleCoverage } from '../rule-coverage.js';
import { quickActions } from './quick-actions.js';

/** What the hub's data file says of an IP; null fields are unknown. */
export interface IpFacts {
  country: string | null;
  /** Where the country came from, to say how sure it is. */
  countrySource: 'data file' | 'reports' | null;
  asn: string | null;
  lists: readonly string[];
  /** Whether the hub's data file can answer ASN / list questions at all. */
  hasAsnData: boolean;
  hasListData: boolean;
}

export interface IpDetailInput {
  user: { email: string; csrfToken: string; role?: Role };
  site: Site;
  sites: Site[];
  ip: string;
  facts: IpFacts;
  /** Active rules that apply to this IP now (IP, country, ASN, list), allow rules first. */
  rulesNow: readonly StoredRule[];
  coverage: RuleCoverage;
  /** The hours of the timeline window, with the hours the IP was seen. */
  timeline: { from: number; to: number; hours: readonly ValueHour[] };
  recent: readonly StoredReport[];
  /** True when the request log walk stopped on its time budget: the list may be short. */
  recentPartial: boolean;
  notice?: string;
  error?: string;
}

/** Rules that decided (or would have decided) this IP's recent requests, by how often. */
interface MatchedRule { category: string; rule: string; ruleId: string | null; decided: number; monitored: number }

/**
 * One IP, for an incident: where it is from, which rules apply to it now, which rules its requests
 * hit, when it came (hourly over the timeline window) and its latest requests.
 */
export function ipDetailPage(input: IpDetailInput): string {
  const { site, ip, facts } = input;
  const base = `/sites/${site.id}`;
  const back = `${base}/ips/${encodeURIComponent(ip)}`;
  const canEdit = input.user.role === undefined || input.user.role === 'admin';
  const totals = input.timeline.hours.reduce((a, h) => ({ total: a.total + h.total, blocked: a.blocked + h.blocked }), { total: 0, blocked: 0 });
  const matched = matchedRules(input.recent);
  const body = html`<div class="page-head">
  <h1>IP <code>${ip}</code></h1>
  <div class="ip-actions" data-ip-actions>${quickActions({ siteId: site.id, csrfToken: input.user.csrfToken, coverage: input.coverage, back, canEdit }, 'ip', ip)}</div>
</div>
<section class="card">
  <dl class="facts">
    <dt>Country</dt><dd data-fact="country">${facts.country ? html`${facts.country}${facts.countrySource === 'reports' ? html` <span class="hint">(as the client reported it)</span>` : ''}` : html`unknown <span class="hint">${facts.countrySource === null ? '(no country data for this address)' : ''}</span>`}</dd>
    <dt>Network (ASN)</dt><dd data-fact="asn">${facts.asn ?? html`unknown <span class="hint">${facts.hasAsnData ? '(not in the data file)' : "(the hub's data file holds no ASN data)"}</span>`}</dd>
    <dt>IP lists</dt><dd data-fact="lists">${facts.lists.length > 0 ? facts.lists.map((l, i) => html`${i > 0 ? ', ' : ''}<code>${l}</code>`) : facts.hasListData ? 'on none of the data file\'s lists' : html`unknown <span class="hint">(the hub's data file holds no IP lists)</span>`}</dd>
    <dt>Seen</dt><dd data-fact="seen">${formatNumber(totals.total)} requests, ${formatNumber(totals.blocked)} blocked, over the last ${input.timeline.to - input.timeline.from > 86_400 ? `${Math.round((input.timeline.to - input.timeline.from) / 86_400)} days` : '24 hours'}</dd>
  </dl>
</section>
<section class="card">
  <h2>Requests per hour</h2>
  ${timelineChart(input.timeline)}
</section>
<div class="top-grid">
<section class="card" data-rules-now>
  <h2>Rules that apply now</h2>
  ${input.rulesNow.length === 0 ? html`<p class="hint">No IP, country, network or list rule covers this address.</p>` : html`<ul class="plain">
    ${input.rulesNow.map((r) => html`<li><span class="badge badge-${r.action === 'allow' ? 'allowed' : r.mode === 'monitor' ? 'monitored' : 'blocked'}">${r.action === 'allow' ? 'allowed' : r.mode === 'monitor' ? 'monitored' : 'blocked'}</span>
      <a href="${ruleLink(site.id, r.id)}">${kindName(r.kind)} <code>${r.value}</code></a>
      <span class="hint">${r.expires !== undefined ? `until ${formatTime(Math.floor(r.expires / 1000))}` : 'no expiry'}</span></li>`)}
  </ul>`}
</section>
<section class="card" data-rules-matched>
  <h2>Rules its recent requests hit</h2>
  ${matched.length === 0 ? html`<p class="hint">None of the requests below matched a rule.</p>` : html`<div class="table-wrap"><table class="data">
    <thead><tr><th>Rule</th><th class="num">Decided</th><th class="num">Would have blocked</th></tr></thead>
    <tbody>${matched.map((m) => html`<tr>
      <td class="value"><a href="${base}/requests?rule=${encodeURIComponent(m.ruleId ?? m.rule)}"><code>${m.category}</code> ${m.rule}</a></td>
      <td class="num">${formatNumber(m.decided)}</td><td class="num">${formatNumber(m.monitored)}</td>
    </tr>`)}</tbody>
  </table></div>`}
</section>
</div>
<section class="card" data-recent>
  <h2>Recent requests</h2>
  <div class="table-wrap"><table class="data log">
    <thead><tr><th>Time</th><th>Treatment</th><th>Method</th><th>Host</th><th>Path</th><th>User agent</th><th>Rule</th></tr></thead>
    <tbody>
    ${input.recent.length === 0 ? html`<tr><td colspan="7" class="empty">No stored request from this IP.</td></tr>` : ''}
    ${input.recent.map((r) => html`<tr class="t-${r.treatment.toLowerCase()}">
      <td class="nowrap">${formatTime(r.ts)}</td><td>${r.treatment}</td><td>${r.method}</td><td>${r.host}</td>
      <td class="clip">${r.path}</td><td class="clip">${r.userAgent}</td>
      <td>${r.treatment === 'Passed' ? (r.monitored ?? []).map((m) => html`<div class="hint">monitor <code>${m.category}</code> ${m.rule}</div>`) : html`<code>${r.category}</code> ${r.rule}`}</td>
    </tr>`)}
    </tbody>
  </table></div>
  <p>${input.recentPartial ? html`<span class="hint">The search stopped early; older requests may exist. </span>` : ''}<a href="${base}/requests?ip=${encodeURIComponent(ip)}">All requests from this IP →</a></p>
</section>`;
  return layout({ title: `IP ${ip}`, body, user: input.user, site, sites: input.sites, active: 'requests', notice: input.notice, error: input.error });
}

function matchedRules(recent: readonly StoredReport[]): MatchedRule[] {
  const byKey = new Map<string, MatchedRule>();
  const add = (category: string, rule: string, ruleId: string | null, field: 'decided' | 'monitored') => {
    const key = `${ruleId ?? ''}\t${category}\t${rule}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { category, rule, ruleId, decided: 0, monitored: 0 }));
    entry[field]++;
  };
  for (const r of recent) {
    if (r.treatment !== 'Passed') add(r.category, r.rule, r.ruleId, 'decided');
    for (const m of r.monitored ?? []) add(m.category, m.rule, m.rule_id, 'monitored');
  }
  return [...byKey.values()].sort((a, b) => b.decided + b.monitored - (a.decided + a.monitored));
}

/**
 * Hourly bars as inline SVG: no script, so it shows under the strict CSP and without JavaScript.
 * Blocked requests are the red part of each bar; the hour still filling is drawn paler.
 */
function timelineChart(timeline: IpDetailInput['timeline']): Html {
  const hours = Math.max(1, Math.round((timeline.to - timeline.from) / 3600));
  const byHour = new Map(timeline.hours.map((h) => [h.hour, h]));
  const max = Math.max(1, ...timeline.hours.map((h) => h.total));
  const width = hours * 4;
  const height = 80;
  const bars: Html[] = [];
  for (let i = 0; i < hours; i++) {
    const h = byHour.get(timeline.from + i * 3600);
    if (!h) continue;
    const total = Math.max(1, Math.round((h.total / max) * height));
    const blocked = Math.round((h.blocked / max) * height);
    const last = i === hours - 1;
    bars.push(html`<rect x="${i * 4}" y="${height - total}" width="3" height="${total}" class="bar-total${last ? ' bar-current' : ''}"><title>${formatTime(h.hour)}: ${h.total} requests, ${h.blocked} blocked</title></rect>`);
    if (blocked > 0) bars.push(html`<rect x="${i * 4}" y="${height - blocked}" width="3" height="${blocked}" class="bar-blocked"></rect>`);
  }
  return html`<svg class="timeline" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" data-hours="${timeline.hours.length}"
    aria-label="Requests per hour from ${formatTime(timeline.from)} to now; at most ${max} in an hour">${bars}</svg>
  <p class="hint timeline-axis"><span>${formatTime(timeline.from)}</span><span>peak ${formatNumber(max)} per hour</span><span>now</span></p>`;
}
