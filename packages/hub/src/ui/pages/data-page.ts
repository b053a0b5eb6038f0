import { FEED_FORMATS, type FeedSource, type FeedVersion } from '../../store/feed-records.js';
import { formatNumber, formatTime, html, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Role, Site } from '../../store/store.js';

export interface DataPageInput {
  user: { email: string; csrfToken: string; role?: Role };
  sites: Site[];
  sources: FeedSource[];
  versions: FeedVersion[];
  nowSeconds: number;
  /** The largest file the upload form takes. */
  uploadMaxBytes: number;
  /** The bot catalogue section (data-bot-catalogue.ts). */
  botCatalogue?: Html;
  notice?: string;
  error?: string;
}

const FORMAT_HELP: Record<(typeof FEED_FORMATS)[number], string> = {
  'ip-list': 'IP / CIDR / range list (Spamhaus DROP, FireHOL, Tor exits)',
  'country-csv': 'country ranges CSV (start,end,country)',
  'asn-csv': 'ASN ranges CSV (start,end,asn,organisation)',
  aws: 'AWS ip-ranges.json',
  gcp: 'Google Cloud cloud.json',
  azure: 'Azure service tags JSON',
  oracle: 'Oracle Cloud public_ip_ranges.json',
  cloudflare: 'Cloudflare ips-v4 / ips-v6 (or its API JSON)',
  crawlers: "Google's or Bing's crawler ranges JSON",
  bots: 'bot catalogue JSON (replaces the shipped one in every site\'s rules file)',
};

/** Seconds as "5 min", "3 h", "2 d". */
function age(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function sourceFields(s?: FeedSource): Html {
  return html`<label>Name <input name="name" required maxlength="100" value="${s?.name ?? ''}"></label>
    <label>Format <select name="format">${FEED_FORMATS.map((f) => html`<option value="${f}" ${s?.format === f ? html`selected` : ''}>${FORMAT_HELP[f]}</option>`)}</select></label>
    <label>Source <select name="origin">
      <option value="url" ${!s || s.origin === 'url' ? html`selected` : ''}>fetched from a URL</option>
      <option value="upload" ${s?.origin === 'upload' ? html`selected` : ''}>an uploaded file</option>
      <option value="bundled" ${s?.origin === 'bundled' ? html`selected` : ''}>the bundled CC0 set (country or ASN)</option>
    </select></label>
    <label>URL <input name="url" type="url" maxlength="2048" value="${s?.url ?? ''}" placeholder="https://…"></label>
    <label>List name <input name="list" maxlength="64" pattern="[a-z0-9][a-z0-9_.\\-]*" value="${s?.list ?? ''}" placeholder="e.g. spamhaus-drop (rules block it by this name)"></label>
    <label>Refresh every (minutes) <input name="refreshMinutes" type="number" min="5" max="43200" value="${s ? Math.round(s.refreshSeconds / 60) : 1440}"></label>`;
}

/** Data: the feed sources behind the served data file, their state, the built versions and what changed. */
export function dataPage(input: DataPageInput): string {
  const csrf = input.user.csrfToken;
  const body = html`<h1>Data feeds</h1>
<p class="hint">Sources the hub fetches on schedule and builds into the data file every client downloads. A source that fails or
returns something that is not a feed keeps its last good copy; its error shows here.</p>
<div class="table-wrap"><table class="data feeds">
  <thead><tr><th>Source</th><th>Format → list</th><th>Status</th><th>Entries</th><th>Age</th><th>Last error</th><th></th></tr></thead>
  <tbody>
  ${input.sources.length === 0 ? html`<tr><td colspan="7">No source yet.</td></tr>` : ''}
  ${input.sources.map((s) => html`<tr data-feed-id="${s.id}" data-status="${s.status}">
    <td><strong>${s.name}</strong><br><small>${s.origin === 'url' ? s.url : s.origin === 'upload' ? 'uploaded file' : 'bundled CC0 set'}</small></td>
    <td>${s.format}${s.list ? html` → <code>${s.list}</code>` : ''}</td>
    <td class="status-${s.status}">${s.status}${s.failures > 0 ? html` <small>(${s.failures} failed)</small>` : ''}<br><small>checked ${formatTime(s.checkedAt)}</small></td>
    <td>${s.entries === null ? '—' : formatNumber(s.entries)}</td>
    <td>${age(s.changedAt === null ? null : Math.max(0, input.nowSeconds - s.changedAt))}</td>
    <td class="feed-error">${s.lastError ?? ''}</td>
    <td>
      <form method="post" action="/data/feeds/${s.id}/refresh" class="inline">${csrfField(csrf)}<button type="submit" class="small">Refresh now</button></form>
      <form method="post" action="/data/feeds/${s.id}/remove" class="inline">${csrfField(csrf)}<button type="submit" class="small danger" data-confirm="Remove ${s.name}? Its ranges leave the next data file.">Remove</button></form>
      <details><summary>Edit</summary>
        <form method="post" action="/data/feeds/${s.id}" class="stack">${csrfField(csrf)}${sourceFields(s)}<button type="submit" class="small">Save</button></form>
        ${s.origin === 'upload' ? html`<form method="post" action="/data/feeds/${s.id}/file" class="stack">${csrfField(csrf)}
          <label>New file content <textarea name="content" rows="6" required></textarea></label><button type="submit" class="small">Upload</button></form>` : ''}
      </details>
    </td>
  </tr>`)}
  </tbody>
</table></div>
<section class="card narrow">
  <h2>Add a source</h2>
  <form method="post" action="/data/feeds" class="stack">
    ${csrfField(csrf)}
    ${sourceFields()}
    <label>File content (for an uploaded file, up to ${formatNumber(input.uploadMaxBytes)} bytes) <textarea name="content" rows="6"></textarea></label>
    <button type="submit">Add</button>
  </form>
  <p class="hint">URLs must reach a public address unless the hub runs with <code>--feeds-allow-private</code>.</p>
</section>
${input.botCatalogue ?? ''}
<h2>Versions</h2>
<div class="table-wrap"><table class="data feed-versions">
  <thead><tr><th>Version</th><th>Built</th><th>File</th><th>Ranges</th><th>Changes (ranges added / removed per list)</th></tr></thead>
  <tbody>
  ${input.versions.length === 0 ? html`<tr><td colspan="5">Nothing built from the feeds yet.</td></tr>` : ''}
  ${input.versions.map((v) => html`<tr data-version="${v.version}">
    <td>${v.version}</td><td>${formatTime(v.builtAt)}</td><td><code>${v.fileName}</code></td><td>${formatNumber(v.ranges)}</td>
    <td>${v.diff.length === 0 ? 'no list changed' : v.diff.map((d) => html`<details class="list-diff" data-list="${d.list}"><summary><code>${d.list}</code>: +${formatNumber(d.added)} / −${formatNumber(d.removed)}</summary>
      ${d.addedSample.length ? html`<p>Added: ${d.addedSample.map((r) => html`<code>${r}</code> `)}${d.added > d.addedSample.length ? '…' : ''}</p>` : ''}
      ${d.removedSample.length ? html`<p>Removed: ${d.removedSample.map((r) => html`<code>${r}</code> `)}${d.removed > d.removedSample.length ? '…' : ''}</p>` : ''}
    </details>`)}</td>
  </tr>`)}
  </tbody>
</table></div>`;
  return layout({ title: 'Data', body, user: input.user, sites: input.sites, notice: input.notice, error: input.error });
}
