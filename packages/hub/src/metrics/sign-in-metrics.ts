import type { PasswordCheckStats } from '../auth/password-check-gate.js';
import { counterText, gaugeText } from './prometheus-text.js';

/**
 * The password checks of sign-ins (auth/password-check-gate.ts): running and waiting now, and how many
 * ended or were refused because the queue was full. A rising refused count is a sign-in flood, answered
 * 503 while every other route keeps its share of the thread pool.
 */
export function signInText(checks: PasswordCheckStats): string {
  return [
    gaugeText('moat_hub_password_checks_running', 'Password checks (scrypt) running now, on libuv\'s thread pool.', [{ labels: {}, value: checks.running }]),
    gaugeText('moat_hub_password_checks_waiting', 'Password checks waiting for a turn now.', [{ labels: {}, value: checks.waiting }]),
    counterText('moat_hub_password_checks_total', 'Password checks by outcome: completed, or refused at once because the queue was full (answered 503).', [
      { labels: { outcome: 'completed' }, value: checks.completed },
      { labels: { outcome: 'refused' }, value: checks.refused },
    ]),
  ].join('\n');
}
