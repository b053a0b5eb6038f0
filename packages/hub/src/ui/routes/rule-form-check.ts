import { ZodError } from 'zod';
import { HttpError } from '../../server/http-error.js';

/**
 * The "Add a rule" form's own checks (fields the rule input needs), and the mapping of every error,
 * the engine's included, to the field it belongs to, so the page shows it beside that field. What a
 * value may be (an ISO country code, a known HTTP method, an IP range …) is the engine's rule
 * validation alone, so the form, the API and rules files accept exactly the same rules.
 */

export type RuleFormField = 'kind' | 'value' | 'mode' | 'note' | 'expires' | 'rl_path' | 'rl_method' | 'rl_limit' | 'rl_window' | 'rl_key_name';
export type RuleFormErrors = Partial<Record<RuleFormField, string>>;

/** Fields the form must have before a rule can be built from it; empty when there is nothing to say. */
export function ruleFormProblems(form: Record<string, string>): RuleFormErrors {
  const errors: RuleFormErrors = {};
  if (form.kind === 'rateLimit') {
    if (!(form.rl_path || form.value || '').trim()) errors.rl_path = 'give the path to limit, such as /login or /api/*';
    if (!/^\d{1,9}$/.test((form.rl_limit ?? '').trim()) || Number(form.rl_limit) < 1) errors.rl_limit = 'a whole number of requests, at least 1';
  } else if (!(form.value ?? '').trim()) {
    errors.value = 'give the value the rule matches';
  }
  return errors;
}

/** The field an error from parsing or storing the rule belongs to; `value` when none fits better. */
export function fieldOfError(error: unknown, kind: string | undefined): RuleFormErrors {
  if (error instanceof ZodError) {
    const errors: RuleFormErrors = {};
    for (const issue of error.issues) {
      const path = issue.path.join('.');
      const field: RuleFormField = path.startsWith('rateLimit.')
        ? ({ limit: 'rl_limit', window: 'rl_window', method: 'rl_method', path: 'rl_path', key: 'rl_key_name' } as const)[path.slice(10) as 'limit'] ?? 'rl_path'
        : (['kind', 'value', 'mode', 'note', 'expires'] as const).find((f) => f === path) ?? 'value';
      errors[field] ??= issue.message;
    }
    return errors;
  }
  if (error instanceof HttpError && error.statusCode < 500) {
    const message = error.message;
    if (/expir/i.test(message)) return { expires: message };
    if (kind === 'rateLimit') {
      if (/rate limit key|header name|cookie name/i.test(message)) return { rl_key_name: message };
      if (/method/i.test(message)) return { rl_method: message };
      if (/window|duration/i.test(message)) return { rl_window: message };
      if (/limit/i.test(message) && !/path/i.test(message)) return { rl_limit: message };
      return { rl_path: message };
    }
    return { value: message };
  }
  return {};
}
