import { html, formatNumber, formatTime } from '../html.js';
import { layout } from '../layout.js';
import type { ApiKeyInfo, ClientContact, ReporterContact, Site } from '../../store/store.js';

export function clientsPage(input: {
  user: { email: string; csrfToken: string }; site: Site; sites: Site[]; clients: ClientContact[]; reporters: ReporterContact[];
  currentFiles: Record<string, string | undefined>;
  /** The site's API keys: each row names the key it was made with (one host on two keys is two rows). */
  keys: ApiKeyInfo[];
}): string {
  const keys = new Map(input.keys.map((k) => [k.id, k]));
  const keyName = (id: number) => {
    const key = keys.get(id);
    return key ? html`<code>${key.prefix}…</code> ${key.label}` : html`#${id}`;
  };
  const body = html`<h1>Clients</h1>
<p class="hint">Processes that downloaded rules (their last download request, a row per API key), and what they reported.</p>
<div class="table-wrap"><table class="data">
  <thead><tr><th>Host</th><th>Process</th><th>Client</th><th>Framework</th><th>File</th><th>Has (rule version)</th><th>Up to date</th><th>IP</th><th>API key</th><th>Last contact</th></tr></thead>
  <tbody>
  ${input.clients.length === 0 ? html`<tr><td colspan="10" class="empty">No client has downloaded rules yet. See Setup.</td></tr>` : ''}
  ${input.clients.map((c) => {
    const current = c.category === 'custom_rules' ? input.currentFiles[c.format] : c.servedFile;
    // After a 200 or a 304 the client holds the file the hub served or confirmed.
    const upToDate = c.servedFile === current;
    return html`<tr>
    <td>${c.hostname || '—'}</td><td>${c.processId || '—'}</td><td>${c.client} ${c.version}</td><td>${c.framework}</td>
    <td>${c.category} (${c.format})</td><td><code>${c.servedFile || '—'}</code></td>
    <td>${upToDate ? 'yes' : 'no: gets the new file on its next poll'}</td><td>${c.ip}</td><td>${keyName(c.apiKeyId)}</td>
    <td>${formatTime(c.lastSeen)}</td>
  </tr>`;
  })}
  </tbody>
</table></div>
<h2>Reporters</h2>
<div class="table-wrap"><table class="data">
  <thead><tr><th>Client</th><th>Version</th><th>Framework</th><th class="num">Records</th><th>Last report</th></tr></thead>
  <tbody>
  ${input.reporters.length === 0 ? html`<tr><td colspan="5" class="empty">No reports yet.</td></tr>` : ''}
  ${input.reporters.map((r) => html`<tr><td>${r.client || '—'}</td><td>${r.version}</td><td>${r.framework}</td><td class="num">${formatNumber(r.records)}</td><td>${formatTime(r.lastSeen)}</td></tr>`)}
  </tbody>
</table></div>`;
  return layout({ title: 'Clients', body, user: input.user, site: input.site, sites: input.sites, active: 'clients' });
}
