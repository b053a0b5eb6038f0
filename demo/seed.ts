// The demo site's starting rules: what a person would set up on day one. Created through the hub's
// own rule service, so they are validated, stored and compiled exactly as dashboard-made rules are.

import type { Hub } from 'moat-hub';

type RuleInput = Parameters<Hub['context']['rules']['create']>[1];
type Actor = Parameters<Hub['context']['rules']['create']>[2];

/** How the audit log names the demo's own rules. */
const DEMO_ACTOR: Actor = { userId: null, email: 'demo setup', ip: null };

const block = (kind: RuleInput['kind'], value: string, note: string): RuleInput =>
  ({ action: 'block', kind, value, note, mode: 'block' }) as RuleInput;

/** The uptime checker's address: allowed, so it is never blocked or rate-limited (the traffic uses it). */
export const DEMO_MONITOR_IP = '192.0.2.10';

export const DEMO_RULES: RuleInput[] = [
  { action: 'allow', kind: 'ip', value: DEMO_MONITOR_IP, note: 'uptime monitor', mode: 'block' } as RuleInput,
  block('path', '/wp-admin', 'WordPress probes; this is not a WordPress site'),
  block('path', '/wp-login.php', 'WordPress probes'),
  block('path', '/.env', 'secret-file probes'),
  block('path', '/.git', 'secret-file probes'),
  block('path', '/phpmyadmin', 'admin-tool probes'),
  block('path', '/backup', 'backup-file probes'),
  block('userAgent', 'sqlmap', 'automated SQL injection'),
  block('userAgent', 'nikto', 'vulnerability scanner'),
  block('userAgent', 'masscan', 'port scanner'),
  block('param', 'union select', 'SQL injection'),
  block('param', 'drop table', 'SQL injection'),
  block('param', '<script', 'reflected XSS'),
  block('list', 'tor', 'Tor exit nodes'),
  block('method', 'TRACE', 'never used by the app'),
  { ...block('path', '/xmlrpc.php', 'watching before blocking'), mode: 'monitor' },
  { ...block('userAgent', 'zgrab', 'watching before blocking'), mode: 'monitor' },
  {
    action: 'block', kind: 'rateLimit', value: '/login', note: 'credential stuffing', mode: 'block',
    rateLimit: { method: 'POST', path: '/login', limit: 5, window: '60s' },
  } as RuleInput,
];

/** Creates the demo rules on the site; returns how many. */
export async function seedDemoRules(hub: Hub, siteId: number): Promise<number> {
  for (const rule of DEMO_RULES) await hub.context.rules.create(siteId, rule, DEMO_ACTOR);
  return DEMO_RULES.length;
}
