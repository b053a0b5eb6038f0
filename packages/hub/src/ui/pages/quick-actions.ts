import { html, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { quickBlockValue, type QuickBlockKind } from '../../rules/quick-block.js';
import { kindName } from '../../rules/rule-breadth.js';
import { ruleLink } from './rules-page.js';
import type { Coverage, RuleCoverage } from '../rule-coverage.js';

/** The expiries one-click rules offer; "never" is the default, as before expiries existed. */
export const QUICK_EXPIRIES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, never: null } as const;
export type QuickExpiry = keyof typeof QUICK_EXPIRIES;
export const QUICK_EXPIRY_NAMES = Object.keys(QUICK_EXPIRIES) as [QuickExpiry, ...QuickExpiry[]];
const EXPIRY_LABELS: Record<QuickExpiry, string> = { '1h': '1 h', '24h': '24 h', '7d': '7 d', never: 'never' };

export interface QuickActionsFrame {
  siteId: number;
  csrfToken: string;
  coverage: RuleCoverage;
  /** Where the forms come back to. */
  back: string;
  /** False for a viewer: the state shows, the buttons do not. */
  canEdit: boolean;
}

/**
 * The action cell for one value (a top-list row, the IP page): when a rule already covers the value,
 * its state (badge, rule, expiry) and an undo for an exact rule; otherwise Block / Monitor with an
 * expiry. The buttons post, and name, the exact value the rule will get (an IPv4-mapped address as
 * its IPv4 form); a value quick block refuses gets no buttons, only the reason.
 */
export function quickActions(frame: QuickActionsFrame, kind: QuickBlockKind, reported: string): Html {
  const quick = quickBlockValue(kind, reported);
  const covered = frame.coverage.of(kind, quick.ok ? quick.value : reported);
  if (covered) return coverageCell(frame, kind, quick.ok ? quick.value : reported, covered);
  if (!frame.canEdit) return html``;
  if (!quick.ok) return html`<span class="hint" title="${quick.reason}" data-no-quick-block>no quick block</span>`;
  return quickForm(frame, kind, quick.value, ['block', 'monitor']);
}

function quickForm(frame: QuickActionsFrame, kind: QuickBlockKind, value: string, modes: readonly ('block' | 'monitor')[]): Html {
  const label = `${kindName(kind)} ${value}`;
  return html`<form method="post" action="/sites/${frame.siteId}/rules/quick" class="quick">
          ${csrfField(frame.csrfToken)}
          <input type="hidden" name="kind" value="${kind}">
          <input type="hidden" name="value" value="${value}">
          <input type="hidden" name="back" value="${frame.back}">
          <select name="expires" aria-label="Expires after" title="Expires after">
            ${QUICK_EXPIRY_NAMES.map((e) => html`<option value="${e}" ${e === 'never' ? html`selected` : ''}>${EXPIRY_LABELS[e]}</option>`)}
          </select>
          ${modes.includes('block') ? html`<button type="submit" name="mode" value="block" class="small danger" title="Block ${label}">Block</button>` : ''}
          ${modes.includes('monitor') ? html`<button type="submit" name="mode" value="monitor" class="small" title="Monitor ${label}">Monitor</button>` : ''}
        </form>`;
}

function coverageCell(frame: QuickActionsFrame, kind: QuickBlockKind, value: string, covered: Coverage): Html {
  const { rule, state } = covered;
  const badge = html`<span class="badge badge-${state}" data-state="${state}">${state}</span>`;
  const link = html`<a href="${ruleLink(frame.siteId, rule.id)}" data-rule-link="${rule.id}">${covered.exact ? 'rule' : html`${kindName(rule.kind)} rule <code>${rule.value}</code>`}</a>`;
  const expiry = html`<span class="hint" data-expires>${rule.expires !== undefined ? `until ${utcMinute(rule.expires)}` : 'no expiry'}</span>`;
  const undo = covered.exact && frame.canEdit ? html`<form method="post" action="/sites/${frame.siteId}/rules/${encodeURIComponent(rule.id)}/undo" class="inline">
          ${csrfField(frame.csrfToken)}
          <input type="hidden" name="back" value="${frame.back}">
          <button type="submit" class="small" data-undo title="Delete the ${kindName(kind)} rule ${value}">Undo</button>
        </form>` : '';
  // A monitored value can still be blocked in one click (the quick route switches the rule's mode).
  const block = covered.exact && frame.canEdit && state === 'monitored' ? quickForm(frame, kind, value, ['block']) : '';
  return html`<div class="rule-state" data-covered-by="${rule.id}">${badge} ${link} ${expiry} ${undo}${block}</div>`;
}

function utcMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}
