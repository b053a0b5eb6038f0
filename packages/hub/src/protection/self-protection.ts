import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Engine, rulesFromDocument, writeRulesFile, type Rule } from 'moat-waf';
import { moat } from 'moat-waf/adapters/fastify';

/**
 * The hub's own baseline: methods no dashboard or client uses, and a per-IP cap on sign-in posts
 * that sits above the login limiter's per-account count (it stops floods, the limiter stops guessing).
 */
export const BASELINE_RULES = {
  // No TRACK: Node's HTTP parser answers it 400 before any route, and method rules refuse unknown methods.
  block: { methods: ['TRACE', 'CONNECT'] },
  rateLimits: [{ path: '/login', method: 'POST', limit: 60, window: '1m' }],
};

/**
 * Puts Moat's Fastify middleware in front of every hub route, with the baseline plus the operator's
 * rules, compiled once into `<dataDir>/self-protection.db` at start.
 */
export async function registerSelfProtection(
  app: FastifyInstance, dataDir: string, options: { rules?: object; trustedProxies?: string[] },
): Promise<Engine> {
  const rules: Rule[] = rulesFromDocument(BASELINE_RULES);
  if (options.rules) {
    const seen = new Set(rules.map((r) => r.id));
    for (const rule of rulesFromDocument(options.rules, () => 'selfProtection.rules: ')) if (!seen.has(rule.id)) rules.push(rule);
  }
  const file = join(dataDir, 'self-protection.db');
  writeRulesFile(rules, file);
  const engine = Engine.open({ rules: file });
  await app.register(moat, { engine, trustedProxies: options.trustedProxies ?? [], logger: app.log });
  return engine;
}
