import { html, formatNumber, formatTime, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import { previewControls, previewPanel } from './preview-controls.js';
import type { Site } from '../../store/store.js';
import type { SiteThresholdStats, ThresholdStats } from '../../thresholds/ban-service.js';
import { banKeyLabel } from '../../thresholds/ban-key.js';
import type { Ban, ThresholdEvent, ThresholdRule } from '../../thresholds/threshold-types.js';

export interface ThresholdFormState {
  /** The rule being edited; absent for a new one. */
  ruleId?: number;
  values: Record<string, string>;
  error?: string;
}

/**
 * The Thresholds (auto-ban) page: the site's threshold rules with a form to add or edit one, the standing
 * bans (each with a one-click lift), the monitor-mode "would ban" list, and the refusals by cap or rate.
 */
export function thresholdsPage(input: {
  user: { email: string; csrfToken: string; role?: 'admin' | 'viewer' }; site: Site; sites: Site[];
  rules: ThresholdRule[]; bans: Ban[]; wouldBans: Ban[]; events: ThresholdEvent[]; stats: SiteThresholdStats; hubStats?: ThresholdStats;
  form?: ThresholdFormState; notice?: string; error?: string;
}): string {
  const { site, user } = input;
  const base = `/sites/${site.id}/thresholds`;
  const canEdit = user.role === 'admin';
  const names = new Map(input.rules.map((r) => [r.id, r.name]));
  const s = input.stats;
  const fleet = input.hubStats?.fleet;
  const body = html`<h1>Thresholds</h1>
<p class="hint">Threshold rules count the reports of all this site's clients; a key that reaches a rule's threshold in its window is
banned for the rule's duration (enforce) or listed under "Would ban" (monitor). IPs covered by an allow rule are never banned.
A rule keyed by a header, a cookie or the user id counts the hash Moat clients report (never the value; Wafris clients report none),
bans that hash everywhere, and counts a request without the key by its IP. Counts start from zero when the hub restarts; bans stay.</p>
<div class="table-wrap"><table class="data thresholds">
  <thead><tr><th>Name</th><th>Counts</th><th class="num">Threshold</th><th>Window</th><th>Key</th><th>Ban for</th><th>Mode</th><th class="num">Bans/min</th><th></th></tr></thead>
  <tbody>
  ${input.rules.length === 0 ? html`<tr><td colspan="9" class="empty">No threshold rules yet.</td></tr>` : ''}
  ${input.rules.map((r) => html`<tr data-threshold-id="${r.id}">
    <td>${r.name}</td><td>${describeCondition(r)}</td><td class="num">${formatNumber(r.threshold)}</td><td>${duration(r.windowSeconds)}</td>
    <td>${keyName(r.key)}</td><td>${duration(r.banSeconds)}</td>
    <td><span class="mode mode-${r.mode === 'enforce' ? 'block' : 'monitor'}">${r.mode}</span></td><td class="num">${formatNumber(r.maxBansPerMinute)}</td>
    <td>${canEdit ? html`<a class="button small" href="${base}?edit=${r.id}#threshold-form">Edit</a>
      <form method="post" action="${base}/${r.id}/delete" class="inline">${csrfField(user.csrfToken)}
        <button type="submit" class="small danger" data-confirm="Delete this threshold rule? Its bans stay until they expire.">Delete</button></form>` : ''}</td>
  </tr>`)}
  </tbody>
</table></div>

${canEdit ? html`<section class="card" id="threshold-form">
  <h2>${input.form?.ruleId ? 'Edit threshold rule' : 'Add a threshold rule'}</h2>
  ${ruleForm(base, user.csrfToken, input.form)}
</section>` : ''}

<h2>Active bans</h2>
<div class="table-wrap"><table class="data bans">
  <thead><tr><th>Key</th><th>Source</th><th>Reason</th><th>Rule</th><th>Since</th><th>Expires</th><th></th></tr></thead>
  <tbody>
  ${input.bans.length === 0 ? html`<tr><td colspan="7" class="empty">No standing bans.</td></tr>` : ''}
  ${input.bans.map((b) => html`<tr data-ban-id="${b.id}">
    <td><code>${banKeyLabel(b.key)}</code></td><td><span class="badge badge-auto">auto</span></td><td>${b.reason}</td>
    <td>${ruleName(names, b.ruleId)}</td><td>${formatTime(b.createdAt)}</td><td>${formatTime(b.expiresAt)}</td>
    <td>${canEdit ? html`<form method="post" action="/sites/${site.id}/bans/${b.id}/lift" class="inline">${csrfField(user.csrfToken)}
      <button type="submit" class="small">Lift</button></form>` : ''}</td>
  </tr>`)}
  </tbody>
</table></div>

<h2>Would ban (monitor mode)</h2>
<div class="table-wrap"><table class="data would-ban">
  <thead><tr><th>Key</th><th>Reason</th><th>Rule</th><th>Seen</th><th>Would expire</th></tr></thead>
  <tbody>
  ${input.wouldBans.length === 0 ? html`<tr><td colspan="5" class="empty">Nobody yet.</td></tr>` : ''}
  ${input.wouldBans.map((b) => html`<tr data-would-ban-id="${b.id}"><td><code>${banKeyLabel(b.key)}</code></td><td>${b.reason}</td>
    <td>${ruleName(names, b.ruleId)}</td><td>${formatTime(b.createdAt)}</td><td>${formatTime(b.expiresAt)}</td></tr>`)}
  </tbody>
</table></div>

<h2>Refused bans</h2>
<p class="hint">Since the hub started: ${formatNumber(s.refusedByCap)} refused by the per-site cap, ${formatNumber(s.refusedByRate)} by a rule's
rate, ${formatNumber(s.allowListed)} covered by allow rules, ${formatNumber(s.droppedCrossings)} dropped while the hub was behind;
${formatNumber(s.counters.keys)} of ${formatNumber(s.counters.maxKeys)} counters in use, ${formatNumber(s.counters.evictions)} evicted.</p>
${fleet === undefined || fleet === null ? '' : html`<p class="hint" data-fleet-counts>Counted with the other hubs on this database: ${formatNumber(fleet.written)} counts shared
in ${formatNumber(fleet.flushes)} flushes, ${formatNumber(fleet.fleetCrossings)} crossings found on the fleet's sums,
${formatNumber(s.alreadyBanned)} already banned by another hub, ${formatNumber(fleet.dropped)} counts not shared (too many waiting, or a failed flush).</p>`}
<div class="table-wrap"><table class="data threshold-events">
  <thead><tr><th>When</th><th>Limit</th><th>Rule</th><th>Detail</th></tr></thead>
  <tbody>
  ${input.events.length === 0 ? html`<tr><td colspan="4" class="empty">No ban was refused.</td></tr>` : ''}
  ${input.events.map((e) => html`<tr data-event-kind="${e.kind}"><td>${formatTime(e.at)}</td><td>${e.kind === 'ban_cap' ? 'cap on standing bans' : 'bans per minute'}</td>
    <td>${ruleName(names, e.ruleId)}</td><td>${e.detail}</td></tr>`)}
  </tbody>
</table></div>`;
  return layout({ title: 'Thresholds', body, user, site, sites: input.sites, active: 'thresholds', notice: input.notice, error: input.error });
}

function keyName(key: ThresholdRule['key']): string {
  if (key === 'ip64') return 'IP (IPv6 by /64)';
  if (key === 'ip') return 'IP';
  return `${key}, else IP`;
}

function ruleName(names: Map<number, string>, id: number | null): string {
  return id === null ? '—' : names.get(id) ?? `#${id} (deleted)`;
}

function describeCondition(r: ThresholdRule): string {
  const c = r.condition;
  const parts = [c.requests === 'blocked' ? 'blocked requests' : 'requests'];
  if (c.method || c.path) parts.push(`to ${c.method ?? 'any method'} ${c.path ?? ''}${c.path && c.pathMatch === 'prefix' ? '*' : ''}`.trimEnd());
  if (c.status !== null) parts.push(`answered ${c.status}`);
  if (c.clients === 'all') parts.push('(the Wafris gem\'s reports too)');
  return parts.join(' ');
}

function duration(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** The form's fields from a stored rule, for editing. */
export function thresholdFormValues(r: ThresholdRule): Record<string, string> {
  return {
    name: r.name, requests: r.condition.requests, method: r.condition.method ?? '', path: r.condition.path ?? '',
    pathMatch: r.condition.pathMatch, status: r.condition.status === null ? '' : String(r.condition.status),
    windowSeconds: String(r.windowSeconds), threshold: String(r.threshold), ...keyFields(r.key), banSeconds: String(r.banSeconds),
    mode: r.mode, maxBansPerMinute: String(r.maxBansPerMinute), clients: r.condition.clients ?? 'moat',
  };
}

/** The form's key select and name field: `header:x-api-key` is `header` and `x-api-key`. */
function keyFields(key: ThresholdRule['key']): { key: string; keyName: string } {
  const colon = key.indexOf(':');
  return colon < 0 ? { key, keyName: '' } : { key: key.slice(0, colon), keyName: key.slice(colon + 1) };
}

function ruleForm(base: string, csrf: string, state: ThresholdFormState | undefined): Html {
  const v = state?.values ?? {};
  const text = (name: string, attrs: Html, type = 'text') => html`<input name="${name}" type="${type}" value="${v[name] ?? ''}" ${attrs}>`;
  const option = (name: string, value: string, label: string, fallback = false) =>
    html`<option value="${value}" ${v[name] === value || (v[name] === undefined && fallback) ? html`selected` : ''}>${label}</option>`;
  return html`<form method="post" action="${state?.ruleId ? `${base}/${state.ruleId}` : base}" class="rule-form" novalidate>
    ${csrfField(csrf)}
    ${state?.error ? html`<p class="error" role="alert">${state.error}</p>` : ''}
    <label>Name ${text('name', html`maxlength="100" required placeholder="login failures"`)}</label>
    <label>Count <select name="requests">${option('requests', 'any', 'every request', true)}${option('requests', 'blocked', 'requests blocked by any rule')}</select></label>
    <label>Method ${text('method', html`maxlength="16" placeholder="any"`)}</label>
    <label>Path ${text('path', html`maxlength="2048" placeholder="any, or /login"`)}</label>
    <label>Path match <select name="pathMatch">${option('pathMatch', 'exact', 'exact', true)}${option('pathMatch', 'prefix', 'prefix (and below)')}</select></label>
    <label>Status ${text('status', html`min="100" max="599" placeholder="any"`, 'number')}</label>
    <label>Threshold ${text('threshold', html`min="1" max="1000000" required placeholder="20"`, 'number')}</label>
    <label>Window (seconds) ${text('windowSeconds', html`min="1" max="86400" required placeholder="300"`, 'number')}</label>
    <label>Key <select name="key">${option('key', 'ip', 'IP', true)}${option('key', 'ip64', 'IP, IPv6 by /64')}${option('key', 'header', 'a header')}${option('key', 'cookie', 'a cookie')}${option('key', 'user', 'the user id')}</select></label>
    <label>Header or cookie name ${text('keyName', html`maxlength="64" placeholder="x-api-key, session"`)}</label>
    <label>Ban for (seconds) ${text('banSeconds', html`min="1" max="2592000" required placeholder="3600"`, 'number')}</label>
    <label>Most bans per minute ${text('maxBansPerMinute', html`min="1" max="10000" placeholder="60"`, 'number')}</label>
    <label>Mode <select name="mode">${option('mode', 'monitor', 'Monitor (list who it would ban)', true)}${option('mode', 'enforce', 'Enforce (ban)')}</select></label>
    <label class="inline"><input type="checkbox" name="clients" value="all" ${v.clients === 'all' ? html`checked` : ''}> Count the Wafris gem's reports too
      (it takes the client address from headers any visitor can send: tick only behind a proxy that overwrites them)</label>
    ${previewControls('data-threshold-preview', `/api${base}/preview`)}
    <button type="submit">${state?.ruleId ? 'Save' : 'Add threshold rule'}</button>
  </form>
  ${previewPanel('threshold-preview')}`;
}

