import { html, formatTime } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { ApiKeyInfo, Site } from '../../store/store.js';
import { SETUP_SNIPPETS } from './setup-snippets.js';

export function setupPage(input: {
  user: { email: string; csrfToken: string }; site: Site; sites: Site[]; keys: ApiKeyInfo[]; hubUrl: string;
  /** The hub's ed25519 public key (raw 32 bytes, base64) that managed clients pin. */
  publicKey?: string;
  /** A key just created: shown this once. */
  newKey?: string; notice?: string; error?: string;
}): string {
  const { site, user } = input;
  const base = `/sites/${site.id}/keys`;
  const keyForSnippets = input.newKey ?? 'YOUR_API_KEY';
  const body = html`<h1>Set up ${site.name}</h1>
${input.newKey ? html`<section class="card new-key" role="status">
  <h2>New API key</h2>
  <p>Copy it now: the hub keeps only a hash and cannot show it again.</p>
  <div class="copy-row"><code id="new-key">${input.newKey}</code> <button type="button" class="small" data-copy="#new-key">Copy</button></div>
</section>` : ''}
<section class="card">
  <h2>API keys</h2>
  <div class="table-wrap"><table class="data">
    <thead><tr><th>Key</th><th>Label</th><th>Created</th><th>Last used</th><th>Status</th><th></th></tr></thead>
    <tbody>
    ${input.keys.length === 0 ? html`<tr><td colspan="6" class="empty">No key yet.</td></tr>` : ''}
    ${input.keys.map((k) => html`<tr data-key-id="${k.id}">
      <td><code>${k.prefix}…</code></td><td>${k.label}</td><td>${formatTime(k.createdAt)}</td><td>${formatTime(k.lastUsedAt)}</td>
      <td>${k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active'}</td>
      <td>${k.revokedAt ? '' : html`<form method="post" action="${base}/${k.id}/revoke" class="inline">${csrfField(user.csrfToken)}<button type="submit" class="small danger" data-confirm="Revoke this key? Clients using it stop getting rules.">Revoke</button></form>`}</td>
    </tr>`)}
    </tbody>
  </table></div>
  <form method="post" action="${base}" class="inline-form">
    ${csrfField(user.csrfToken)}
    <label>Label <input name="label" maxlength="100" placeholder="production"></label>
    <button type="submit">Create API key</button>
  </form>
</section>
<section class="card">
  <h2>Install</h2>
  <p>Hub URL: <code>${input.hubUrl}</code>. Rules are downloaded from <code>${input.hubUrl}/v2/downsync</code> and reports sent to <code>${input.hubUrl}/v2/upsync</code>.</p>
  ${input.publicKey ? html`<p>Rule files are signed (header <code>X-Moat-Signature</code>, ed25519 over the file bytes). Hub public key (raw, base64), also at <a href="/v2/public-key">/v2/public-key</a>:</p>
  <div class="copy-row"><code id="hub-public-key">${input.publicKey}</code> <button type="button" class="small" data-copy="#hub-public-key">Copy</button></div>` : ''}
  ${SETUP_SNIPPETS.map((s) => {
    const code = s.code.replaceAll('{{KEY}}', keyForSnippets).replaceAll('{{HUB}}', input.hubUrl).replaceAll('{{PUBKEY}}', input.publicKey ?? '');
    return html`<details class="snippet" ${s.id === 'express' ? html`open` : ''}>
      <summary>${s.title}</summary>
      <p>${s.intro}</p>
      <div class="copy-row"><pre id="snippet-${s.id}"><code>${code}</code></pre><button type="button" class="small" data-copy="#snippet-${s.id}">Copy</button></div>
    </details>`;
  })}
</section>`;
  return layout({ title: 'Setup', body, user, site, sites: input.sites, active: 'setup', notice: input.notice, error: input.error });
}
