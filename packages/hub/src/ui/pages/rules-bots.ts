/**
 * The Rules page's bot section: one row per bot category (and `spoofed`, `unknown`), each with one
 * button per mode, each button a form post of its own, so blocking AI crawlers is one click.
 */
import type { BotCatalogue, BotSettings } from 'moat-waf';
import { html, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { BOT_KEYS, BOT_MODES, allowable } from '../../rules/bot-settings.js';

const LABELS: Record<string, string> = {
  'search-engine': 'Search engines', 'ai-crawler': 'AI crawlers (training)', 'ai-assistant': 'AI assistants and AI search',
  seo: 'SEO tools', monitoring: 'Uptime monitors', scanner: 'Vulnerability scanners', 'social-preview': 'Link previews (social, chat)',
  archiver: 'Web archives', spoofed: 'Spoofed crawlers', unknown: 'Other bots',
};
const HINTS: Record<string, string> = {
  spoofed: 'a user agent claiming a crawler that publishes its ranges, from an IP outside them',
  unknown: 'looks like a bot (isbot) but is in no category',
};
const BUTTONS: Record<string, string> = { allow: 'Allow verified', block: 'Block', monitor: 'Monitor', off: 'Off' };

export function botSettingsSection(siteId: number, csrf: string, settings: BotSettings | null, catalogue: BotCatalogue): Html {
  const modeOf = (key: string) => settings?.modes[key] ?? 'off';
  const members = (key: string) => catalogue.bots.filter((b) => b.category === key);
  return html`<section class="card" id="bot-settings">
  <h2>Bots</h2>
  <p class="hint">Moat clients recognise ${catalogue.bots.length} named bots by user agent (catalogue ${catalogue.updated || 'shipped'}).
  <em>Allow verified</em> lets through, past every block rule, only bots whose IP is in their published ranges (the data file's
  lists, e.g. <code>googlebot</code>); a claim alone never passes. Block answers 403; monitor reports only. Wafris clients ignore these settings.</p>
  <div class="table-wrap"><table class="data bot-settings">
    <thead><tr><th>Category</th><th>Bots</th><th>Mode</th><th></th></tr></thead>
    <tbody>${BOT_KEYS.map((key) => {
      const bots = members(key);
      const mode = modeOf(key);
      return html`<tr data-bot-key="${key}">
      <td>${LABELS[key] ?? key}</td>
      <td><small>${HINTS[key] ?? bots.map((b) => b.verify === undefined ? b.id : `${b.id} ✓`).join(', ')}</small></td>
      <td><span class="mode mode-${mode}">${mode}</span></td>
      <td>${BOT_MODES.filter((m) => m !== mode && (m !== 'allow' || allowable(key, catalogue))).map((m) => html`<form method="post" action="/sites/${siteId}/bots" class="inline">
        ${csrfField(csrf)}<input type="hidden" name="key" value="${key}"><input type="hidden" name="mode" value="${m}">
        <button type="submit" class="small">${BUTTONS[m]}</button></form>`)}</td>
    </tr>`;
    })}</tbody>
  </table></div>
  <p class="hint">✓: publishes its address ranges, so it can be verified (add the list as a feed of that name on the Data page).</p>
</section>`;
}
