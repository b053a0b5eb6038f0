import { html, type Html } from '../html.js';

/**
 * Backtest before saving, on the rules and Thresholds pages: the range and the Preview button inside the
 * page's form (`attribute` on the button holds the preview API's URL), and the panel below it where
 * /assets/preview-panel.js shows progress and the page's script (`script`) the result. Without script
 * the button does nothing and the form still saves.
 */
export function previewControls(attribute: 'data-rule-preview' | 'data-threshold-preview', url: string): Html {
  const button = attribute === 'data-rule-preview'
    ? html`<button type="button" class="secondary" data-rule-preview="${url}">Preview</button>`
    : html`<button type="button" class="secondary" data-threshold-preview="${url}">Preview</button>`;
  return html`<div class="preview-controls">
      <label>Preview over <select name="preview_range" data-preview-range>
        <option value="1h">the last hour</option><option value="24h" selected>the last 24 hours</option><option value="7d">the last 7 days</option>
      </select></label>
      ${button}
    </div>`;
}

export function previewPanel(id: 'rule-preview' | 'threshold-preview'): Html {
  const script = id === 'rule-preview' ? '/assets/rule-preview.js' : '/assets/threshold-preview.js';
  return html`<div id="${id}" class="rule-preview" aria-live="polite" hidden></div>
  <script src="/assets/preview-panel.js" defer></script>
  <script src="${script}" defer></script>`;
}
