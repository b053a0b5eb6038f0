import type { RuleInputBody } from '../../rules/rule-input.js';
import { ruleInputSchema } from '../../rules/rule-input.js';

/** The "Add a rule" form's flat fields as the rule input the REST API takes. */
export function ruleInputFromForm(form: Record<string, string>): RuleInputBody {
  const expires = form.expires?.trim();
  const input: Record<string, unknown> = {
    action: form.action || 'block',
    kind: form.kind,
    value: form.value ?? '',
    mode: form.mode || 'block',
    note: form.note ?? '',
    // datetime-local has no zone; the form labels it UTC.
    expires: expires ? (/[zZ]|[+-]\d{2}:?\d{2}$/.test(expires) ? expires : `${expires}Z`) : undefined,
  };
  if (form.kind === 'rateLimit') {
    const path = (form.rl_path || form.value || '').trim();
    input.value = path;
    input.rateLimit = {
      path,
      method: form.rl_method?.trim() ? form.rl_method.trim() : null,
      match: path.endsWith('*') ? 'prefix' : 'exact',
      limit: form.rl_limit,
      window: form.rl_window?.trim() || '1m',
      key: rateLimitKeyFromForm(form.rl_key_by, form.rl_key_name),
    };
  }
  return ruleInputSchema.parse(input);
}

/** "Count by" and its name as the key text normalizeRule reads; a name is kept even when empty, so it is refused by name. */
function rateLimitKeyFromForm(by: string | undefined, name: string | undefined): string | undefined {
  if (by === 'header' || by === 'cookie') return `${by}:${(name ?? '').trim()}`;
  if (by === 'user') return 'user';
  return undefined;
}
