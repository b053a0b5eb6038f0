import type { Rule } from 'moat-waf';
import type { AuditPage, HubStore, StoredRule } from '../store/store.js';
import type { Actor } from './actor.js';

/** Longest before/after text kept per entry: a rule value can be long, the log stays bounded. */
const MAX_DETAIL = 2000;
/** Most rule ids an import entry lists by name; the count is always exact. */
const MAX_IMPORT_IDS = 50;

export type AuditAction =
  | 'rule.create' | 'rule.update' | 'rule.delete' | 'rule.import' | 'rule.expire'
  | 'site.create' | 'key.create' | 'key.revoke'
  | 'user.invite' | 'user.update' | 'user.remove' | 'user.password'
  | 'auth.signin' | 'auth.signin_failures' | 'auth.signout'
  | 'feed.create' | 'feed.update' | 'feed.delete' | 'feed.upload'
  | 'threshold.create' | 'threshold.update' | 'threshold.delete' | 'ban.lift'
  | 'attacks.update' | 'bots.update'
  | 'bots.catalogue.accept' | 'bots.catalogue.hold' | 'bots.catalogue.confirm' | 'bots.catalogue.dismiss' | 'bots.catalogue.revert';

export interface AuditChange {
  siteId?: number | null;
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

/**
 * Writes the audit log: one entry per change, with who, when, from where and what (before → after).
 * A failed write is not swallowed: the request that made the change fails with it, so no change goes
 * unrecorded without someone noticing.
 */
export class AuditLog {
  constructor(private readonly store: HubStore, private readonly now: () => number) {}

  async record(actor: Actor, action: AuditAction, change: AuditChange = {}): Promise<void> {
    await this.store.appendAudit({
      at: Math.floor(this.now() / 1000), userId: actor.userId, userEmail: actor.email, ip: actor.ip, action,
      siteId: change.siteId ?? null, target: change.target ?? null, before: detail(change.before), after: detail(change.after),
    });
  }

  ruleCreated(actor: Actor, siteId: number, rule: Rule): Promise<void> {
    return this.record(actor, 'rule.create', { siteId, target: rule.id, after: ruleSummary(rule) });
  }

  ruleUpdated(actor: Actor, siteId: number, before: Rule, after: Rule): Promise<void> {
    return this.record(actor, 'rule.update', { siteId, target: before.id, before: ruleSummary(before), after: ruleSummary(after) });
  }

  ruleDeleted(actor: Actor, siteId: number, rule: Rule): Promise<void> {
    return this.record(actor, 'rule.delete', { siteId, target: rule.id, before: ruleSummary(rule) });
  }

  rulesImported(actor: Actor, siteId: number, rules: readonly Rule[], replace: boolean, replacedCount: number): Promise<void> {
    return this.record(actor, 'rule.import', {
      siteId,
      before: replace ? { replaced: replacedCount } : null,
      after: { rules: rules.length, replace, ids: rules.slice(0, MAX_IMPORT_IDS).map((r) => r.id) },
    });
  }

  async rulesExpired(actor: Actor, siteId: number, rules: readonly StoredRule[]): Promise<void> {
    for (const rule of rules) await this.record(actor, 'rule.expire', { siteId, target: rule.id, before: ruleSummary(rule) });
  }

  list(query: { siteId?: number; before?: number; limit: number }): Promise<AuditPage> {
    return this.store.listAudit(query);
  }
}

/** The fields a reader of the log needs to tell what a rule did, without the hub's bookkeeping. */
export function ruleSummary(rule: Rule): Record<string, unknown> {
  const summary: Record<string, unknown> = { action: rule.action, kind: rule.kind, value: rule.value, mode: rule.mode };
  if (rule.note) summary.note = rule.note;
  if (rule.expires !== undefined) summary.expires = new Date(rule.expires).toISOString();
  if (rule.rateLimit) summary.rateLimit = rule.rateLimit;
  return summary;
}

function detail(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL - 1)}…` : text;
}
