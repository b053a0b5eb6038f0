import { html, formatNumber, type Html } from '../html.js';
import { csrfField, layout } from '../layout.js';
import type { Rule } from 'moat-waf';
import type { Site } from '../../store/store.js';
import { formatShare, utcMinute, type RuleImpact } from '../../rules/rule-impact.js';
import { KIND_LABELS } from './rules-page.js';

// The pages that stand between asking for a rule and storing it: a confirmation for a rule that would
// match everything or a large share of recent traffic, and a refusal for a quick block that cannot be
// made exactly as shown. Neither stores anything.

interface PageFrame {
  user: { email: string; csrfToken: string };
  site: Site;
  sites: Site[];
}

export interface ConfirmRuleInput extends PageFrame {
  /** The one rule asked for; absent for an import, whose reasons name their rules. */
  rule?: Pick<Rule, 'action' | 'kind' | 'value' | 'mode'>;
  /** Why this rule needs a second look, one sentence each. */
  reasons: string[];
  impact?: RuleImpact;
  /** Where the confirmed form posts, and the fields it posts again (plus `confirm=1` and the CSRF token). */
  postTo: string;
  fields: Record<string, string>;
  cancel: string;
}

export function confirmRulePage(input: ConfirmRuleInput): string {
  const { rule } = input;
  const body = html`<section class="card confirm-rule" data-confirm-rule>
  <h1>${rule ? 'Confirm this rule' : 'Confirm this import'}</h1>
  ${rule ? html`<p>${ruleSentence(rule)}</p>` : html`<p>The document holds rules that need a second look.</p>`}
  <ul class="reasons">${input.reasons.map((r) => html`<li>${capitalise(r)}.</li>`)}</ul>
  ${input.impact ? impactTable(input.impact) : ''}
  <p>Nothing has been created yet.</p>
  <form method="post" action="${input.postTo}" class="inline">
    ${csrfField(input.user.csrfToken)}
    ${Object.entries(input.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
    <input type="hidden" name="confirm" value="1">
    <button type="submit" class="danger" data-confirm-create>${rule ? 'Create this rule anyway' : 'Import anyway'}</button>
    <a class="button secondary" href="${input.cancel}">Cancel</a>
  </form>
</section>`;
  return layout({ title: 'Confirm rule', body, user: input.user, site: input.site, sites: input.sites, active: 'rules' });
}

export interface QuickBlockRefusedInput extends PageFrame {
  kind: string;
  /** The value as it was posted (shown escaped, never reused). */
  value: string;
  reason: string;
  back: string;
}

export function quickBlockRefusedPage(input: QuickBlockRefusedInput): string {
  const shown = showHidden(input.value.length > 200 ? `${input.value.slice(0, 200)}…` : input.value);
  const body = html`<section class="card" data-quick-refused>
  <h1>No rule created</h1>
  <p>Quick block could not turn <code>${shown}</code> (${KIND_LABELS[input.kind] ?? input.kind}) into exactly one rule: ${input.reason}.</p>
  <p><a href="${input.back}">Back</a> · <a href="/sites/${input.site.id}/rules">Rules page</a> (for ranges and other deliberate rules)</p>
</section>`;
  return layout({ title: 'No rule created', body, user: input.user, site: input.site, sites: input.sites, active: 'overview', error: 'No rule was created.' });
}

/** How a rule reads in a sentence: "Block requests from IP 192.0.2.80." */
const MATCH_PHRASES: Record<string, string> = {
  ip: 'from IP', country: 'from country', asn: 'from network', list: 'from the IP list', userAgent: 'whose user agent contains',
  path: 'whose path contains', param: 'whose parameters contain', host: 'to host', method: 'with method', rateLimit: 'over the rate limit on',
};

/** One rule in words, for a reason that names it: `block path "/"`. */
export function ruleLabel(rule: Pick<Rule, 'action' | 'kind' | 'value'>): string {
  return `${rule.action} ${rule.kind} ${JSON.stringify(rule.value)}`;
}

function ruleSentence(rule: NonNullable<ConfirmRuleInput['rule']>): Html {
  const verb = rule.action === 'allow' ? 'Allow' : rule.mode === 'monitor' ? 'Monitor (report, not block)' : 'Block';
  return html`${verb} requests ${MATCH_PHRASES[rule.kind] ?? rule.kind} <code>${showHidden(rule.value)}</code>.`;
}

function impactTable(impact: RuleImpact): Html {
  return html`<div class="table-wrap"><table class="data impact">
  <thead><tr><th>Stored reports</th><th class="num">Would have matched</th><th class="num">Of requests</th><th class="num">Share</th></tr></thead>
  <tbody>${impact.windows.map((w) => html`<tr data-window="${w.name}">
    <td>${capitalise(w.name)}, since ${utcMinute(w.from)}</td>
    <td class="num">${w.atLeast ? 'at least ' : ''}${formatNumber(w.matched)}</td>
    <td class="num">${formatNumber(w.total)}</td>
    <td class="num">${w.atLeast ? '≥ ' : ''}${formatShare(w.matched, w.total)}</td>
  </tr>`)}</tbody>
</table></div>`;
}

/** Control and invisible characters as `\u….` escapes, so the page shows what was really posted. */
function showHidden(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
