/**
 * What no rule may be, whoever wrote it: checked when a rule is written (normalizeRule), when a rules
 * file is compiled and when one is loaded, so a rule made by hand, by the hub's store or by an older Moat
 * cannot slip past the document checks. These are the rules that would refuse every request or that the
 * rate limiter cannot honour exactly.
 */
import type { Rule } from './types.js';

/** Shortest rate-limit window: below a second, clock steps and request timing decide more than the rule. */
export const MIN_RATE_LIMIT_WINDOW_MS = 1_000;
/**
 * Largest rate limit: the exact limiter remembers up to `limit` request times per client (8 bytes each
 * in process), so a limit bounds one client's memory.
 */
export const MAX_RATE_LIMIT = 1_000_000;

/** Why `rule` must not be used, or an empty list. */
export function unsafeRuleProblems(rule: Rule): string[] {
  const problems: string[] = [];
  if (rule.kind === 'rateLimit') {
    const rl = rule.rateLimit;
    if (rl === undefined) return ['a rate limit needs path, limit and window'];
    if (!Number.isInteger(rl.limit) || rl.limit < 1 || rl.limit > MAX_RATE_LIMIT) {
      problems.push(`rate limit "limit" must be a whole number from 1 to ${MAX_RATE_LIMIT}, got ${String(rl.limit)}`);
    }
    if (!Number.isInteger(rl.windowMs) || rl.windowMs < MIN_RATE_LIMIT_WINDOW_MS) {
      problems.push(`rate limit window must be at least 1s, got ${String(rl.windowMs)} ms`);
    }
    return problems;
  }
  if (rule.kind === 'userAgent' || rule.kind === 'path' || rule.kind === 'param') {
    // Substring rules: an empty or blank value is contained in (nearly) every request.
    if (rule.value.trim() === '') problems.push(`a ${rule.kind} rule needs a value that is not empty or only spaces`);
    else if (rule.kind === 'path' && rule.value === '/' && rule.mode === 'block') {
      problems.push('a path rule of "/" matches every request and would block the whole site; use mode "monitor" to watch all traffic, or a longer path');
    }
  }
  return problems;
}
