/**
 * The Attacks page of a site: what attack detection found over the selected range (counts per category,
 * top locations, recent examples with the client's redacted snippets) and its settings (per-category
 * mode, exclusions), the same settings section the Rules page shows.
 */
import { html, formatNumber, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Site } from '../../store/store.js';
import { RANGE_NAMES, type RangeName } from '../../stats/time-range.js';
import { ACTIVITY_SAMPLE, type AttackActivity } from '../../rules/attack-activity.js';
import { ATTACK_CATEGORIES, ATTACK_MODES, exclusionLines, headerNamesText, type AttackCategory, type AttackSettings } from '../../rules/attack-settings.js';

export const ATTACK_LABELS: Record<AttackCategory, string> = {
  sqli: 'SQL injection', xss: 'Cross-site scripting', traversal: 'Path traversal / file inclusion', shell: 'Shell command injection',
  ssrf: 'Server-side request forgery', nosql: 'NoSQL operator injection', prototype: 'Prototype pollution', template: 'Template / expression injection',
};

export function attacksPage(input: {
  user: { email: string; csrfToken: string; role?: 'admin' | 'viewer' }; site: Site; sites: Site[];
  range: RangeName; activity: AttackActivity; settings: AttackSettings; notice?: string; error?: string;
}): string {
  const { site, user, activity } = input;
  const base = `/sites/${site.id}/attacks`;
  const body = html`<div class="page-head"><h1>Attacks</h1>
  <nav class="ranges" aria-label="Time range">
    ${RANGE_NAMES.map((r) => html`<a href="${base}?range=${r}" ${r === input.range ? html`aria-current="true"` : ''}>${r}</a>`)}
  </nav>
</div>
<section class="card" id="attack-counts">
  <h2>Per category, last ${input.range}</h2>
  <div class="table-wrap"><table class="data">
    <thead><tr><th>Category</th><th>Mode</th><th class="num">Blocked</th><th class="num">Seen in monitor mode</th></tr></thead>
    <tbody>${activity.counts.map((c) => html`<tr data-attack-category="${c.category}">
      <td>${ATTACK_LABELS[c.category]} <small><code>${c.category}</code></small></td>
      <td><span class="mode mode-${input.settings.modes[c.category]}">${input.settings.modes[c.category]}</span></td>
      <td class="num" data-count="blocked">${formatNumber(c.blocked)}</td>
      <td class="num" data-count="monitored">${formatNumber(c.monitored)}</td>
    </tr>`)}</tbody>
  </table></div>
</section>
<section class="card" id="attack-locations">
  <h2>Top locations</h2>
  <p class="hint">From the newest ${formatNumber(ACTIVITY_SAMPLE)} reports of the range (${formatNumber(activity.sampled)} read).</p>
  ${activity.locations.length === 0 ? html`<p class="empty">No attacks reported.</p>` : html`<table class="data">
    <thead><tr><th>Location</th><th class="num">Attacks</th></tr></thead>
    <tbody>${activity.locations.map((l) => html`<tr><td><code>${l.location}</code></td><td class="num">${formatNumber(l.count)}</td></tr>`)}</tbody>
  </table>`}
</section>
<section class="card" id="attack-examples">
  <h2>Recent examples</h2>
  ${activity.examples.length === 0 ? html`<p class="empty">No attacks reported.</p>` : html`<div class="table-wrap"><table class="data">
    <thead><tr><th>Time (UTC)</th><th>Category</th><th>Outcome</th><th>Location</th><th>Snippet (redacted)</th><th>Request</th><th>IP</th></tr></thead>
    <tbody>${activity.examples.map((e) => html`<tr data-attack-example="${e.category}">
      <td>${new Date(e.ts * 1000).toISOString().slice(0, 19).replace('T', ' ')}</td>
      <td>${e.category}</td>
      <td>${e.blocked ? 'blocked' : 'monitored'}</td>
      <td><code>${e.location}</code></td>
      <td><code class="snippet">${e.snippet}</code></td>
      <td><code>${e.method} ${e.path}</code></td>
      <td><a href="/sites/${site.id}/ips/${encodeURIComponent(e.ip)}">${e.ip}</a></td>
    </tr>`)}</tbody>
  </table></div>`}
</section>
${attackSettingsSection(site.id, user.csrfToken, input.settings, base)}`;
  return layout({ title: 'Attacks', body, user, site, sites: input.sites, active: 'attacks', notice: input.notice, error: input.error });
}

/**
 * The settings form (also on the Rules page). `back` is where the form returns after saving.
 * Wafris clients cannot detect attacks: only Moat clients follow these settings.
 */
export function attackSettingsSection(siteId: number, csrf: string, settings: AttackSettings, back: string): Html {
  return html`<section class="card" id="attack-settings">
  <h2>Attack detection</h2>
  <p class="hint">Moat clients judge query, form and JSON values, the path, User-Agent, Referer, cookies and the client-address headers (X-Forwarded-For, X-Real-IP, True-Client-IP, Forwarded), and the headers named below, by syntax. Block answers 403;
  monitor reports only; off skips the category. Wafris clients have no attack detection and ignore these settings.</p>
  <form method="post" action="/sites/${siteId}/attacks" class="stack attack-settings">
    ${csrfField(csrf)}
    <input type="hidden" name="back" value="${back}">
    <div class="table-wrap"><table class="data">
      <thead><tr><th>Category</th><th>Mode</th></tr></thead>
      <tbody>${ATTACK_CATEGORIES.map((c) => html`<tr>
        <td><label for="mode_${c}">${ATTACK_LABELS[c]}</label></td>
        <td><select id="mode_${c}" name="mode_${c}">${ATTACK_MODES.map((m) => html`<option value="${m}" ${settings.modes[c] === m ? html`selected` : ''}>${m}</option>`)}</select></td>
      </tr>`)}</tbody>
    </table></div>
    <label>Exclusions, one a line: <code>&lt;path&gt; [categories|*] [inputs|*]</code>, e.g. <code>/admin/editor xss body.content</code> (a path ending in <code>*</code> is a prefix; inputs: <code>body</code>, <code>query.q</code>, <code>json.user.bio</code>, <code>header.user-agent</code>, <code>cookie.name</code>, <code>path</code>)
      <textarea name="exclusions" rows="4" maxlength="20000">${exclusionLines(settings)}</textarea></label>
    <label>More headers to judge, the ones your app acts on (logs into SQL, renders, passes on), comma-separated, e.g. <code>x-search, x-tenant</code>
      <input type="text" name="headers" maxlength="4000" value="${headerNamesText(settings)}"></label>
    <button type="submit">Save attack settings</button>
  </form>
</section>`;
}
