/**
 * The Data page's bot catalogue section: which catalogue every site is compiled with (source, version,
 * hash, bot count, what changed against the one before), the `bots` feed source's status, a catalogue
 * held for confirmation with its two buttons, and the one-click way back to the shipped catalogue.
 */
import type { CatalogueInForce } from '../../feeds/bot-catalogue-in-force.js';
import type { BotCatalogueDiff, BotCatalogueSummary } from '../../store/bot-catalogue-records.js';
import type { FeedSource } from '../../store/feed-records.js';
import { formatNumber, formatTime, html, type Html } from '../html.js';
import { csrfField } from '../layout.js';

export interface BotCatalogueSectionInput {
  csrf: string;
  inForce: CatalogueInForce;
  held: BotCatalogueSummary | undefined;
  history: BotCatalogueSummary[];
  /** The `bots` feed source, when one is configured. */
  source: FeedSource | undefined;
}

function ids(label: string, list: string[], count: number, kind: string): Html | string {
  if (count === 0) return '';
  return html`<p class="catalogue-${kind}">${label} (${formatNumber(count)}): ${list.map((id) => html`<code>${id}</code> `)}${count > list.length ? '…' : ''}</p>`;
}

export function catalogueDiff(diff: BotCatalogueDiff): Html {
  if (diff.added + diff.removed + diff.changed === 0) return html`<p>No bot changed.</p>`;
  return html`<div class="catalogue-diff">${ids('Added', diff.addedIds, diff.added, 'added')}${ids('Removed', diff.removedIds, diff.removed, 'removed')}${ids('Changed', diff.changedIds, diff.changed, 'changed')}</div>`;
}

export function botCatalogueSection(input: BotCatalogueSectionInput): Html {
  const { inForce, held, source } = input;
  const entry = inForce.entry;
  const shipped = entry === undefined || entry.source === 'shipped';
  return html`<section class="card" id="bot-catalogue" data-catalogue-hash="${inForce.hash}" data-catalogue-bots="${inForce.catalogue.bots.length}">
  <h2>Bot catalogue</h2>
  <p class="hint">The named bots every site's Moat rules file carries (Rules page → Bots). Add a source of format <code>bots</code> above
  to keep it fresh; a copy that fails its checks keeps the catalogue in force (a bot may be verified only by a crawler's own list,
  and its tokens must not occur in ordinary browsers' user agents), and one that would drop more than half of the bots, or change
  how a bot in force is verified or classed, waits here for confirmation.</p>
  <dl class="catalogue-in-force">
    <dt>In force</dt><dd class="catalogue-source">${shipped ? 'the catalogue shipped with the hub' : html`from <strong>${entry.source}</strong>`}${entry ? html` (version ${entry.version}, since ${formatTime(entry.recordedAt)})` : ''}</dd>
    <dt>Bots</dt><dd class="catalogue-bots">${formatNumber(inForce.catalogue.bots.length)}</dd>
    <dt>Edition</dt><dd>${inForce.catalogue.updated || '—'}</dd>
    <dt>Hash</dt><dd><code class="catalogue-hash">${inForce.hash.slice(0, 16)}</code></dd>
    ${source ? html`<dt>Feed</dt><dd class="catalogue-feed status-${source.status}">${source.name}: ${source.status}, last fetch ${formatTime(source.checkedAt)}</dd>
    <dt>Last error</dt><dd class="catalogue-error">${source.lastError ?? '—'}</dd>` : html`<dt>Feed</dt><dd class="catalogue-feed">none</dd>`}
  </dl>
  ${inForce.problem ? html`<p class="error catalogue-problem">${inForce.problem}</p>` : ''}
  ${entry ? html`<h3>Changes against the catalogue before</h3>${catalogueDiff(entry.diff)}` : ''}
  ${held ? html`<div class="notice catalogue-held" data-held-version="${held.version}">
    <p><strong>Held for confirmation:</strong> ${held.source} offered a catalogue of ${formatNumber(held.bots)} bots
    (fetched ${formatTime(held.fetchedAt)}, hash <code>${held.hash.slice(0, 16)}</code>), against ${formatNumber(inForce.catalogue.bots.length)} in force.</p>
    ${catalogueDiff(held.diff)}
    <form method="post" action="/data/bot-catalogue/held/${held.version}/confirm" class="inline">${csrfField(input.csrf)}<button type="submit" class="small danger" data-confirm="Apply this catalogue to every site?">Apply it</button></form>
    <form method="post" action="/data/bot-catalogue/held/${held.version}/dismiss" class="inline">${csrfField(input.csrf)}<button type="submit" class="small">Dismiss</button></form>
  </div>` : ''}
  ${shipped && inForce.problem === null ? '' : html`<form method="post" action="/data/bot-catalogue/revert" class="inline">${csrfField(input.csrf)}<button type="submit" class="small danger" data-confirm="Compile every site with the shipped catalogue again?">Revert to the shipped catalogue</button></form>`}
  ${input.history.length === 0 ? '' : html`<details class="catalogue-history"><summary>History</summary><div class="table-wrap"><table class="data">
    <thead><tr><th>Version</th><th>State</th><th>Source</th><th>Bots</th><th>Hash</th><th>Recorded</th><th>Changes</th></tr></thead>
    <tbody>${input.history.map((h) => html`<tr data-catalogue-version="${h.version}" data-state="${h.state}"><td>${h.version}</td><td>${h.state}</td><td>${h.source}</td>
      <td>${formatNumber(h.bots)}</td><td><code>${h.hash.slice(0, 16)}</code></td><td>${formatTime(h.recordedAt)}</td>
      <td>+${h.diff.added} / −${h.diff.removed} / ~${h.diff.changed}</td></tr>`)}</tbody>
  </table></div></details>`}
</section>`;
}
