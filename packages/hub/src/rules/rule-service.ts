import type { HubStore, StoredRule } from '../store/store.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import { RuleError, expiryMillis, rulesAsDocument, toRule, unsafeRuleProblems, type Rule } from '../distribution/compile.js';
import { readRulesDocument, tooManyRulesAdvice } from './document-reader.js';
import { countListEntries, EARLY_REFUSAL_FACTOR } from './document-job.js';
import { attackSettingsToDocument, botSettingsToDocument, type RulesSource } from 'moat-waf';
import { siteAttackSettings } from './attack-settings.js';
import { hubBotCatalogue, siteBotSettings } from './bot-settings.js';
import { HttpError } from '../server/http-error.js';
import { API_JSON_LIMITS, type RouteJsonLimits } from '../server/json-body.js';
import type { RuleInputBody, RulePatch } from './rule-input.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';

/**
 * Most rules one site may hold: far above hand-made rules (long lists belong in data feeds). Every
 * change still lists them all on the event loop (compiling them moved to a worker): at 100 000, adding
 * one rule held the hub about 4 s, growing linearly; at 10 000 it is under a tenth of a second.
 */
export const MAX_RULES_PER_SITE = 10_000;

/**
 * The rules import's JSON body, bounded on its bytes before it is parsed: a document far over the rule
 * cap is refused there. A 6 MB list of 431,603 addresses held the event loop 180–340 ms being copied and
 * parsed, only to be refused after. A list entry is one value, a rule object up to about a dozen (a rate
 * limit's fields), so twelve per entry the early count allows is a bound no document within the cap meets.
 */
export const IMPORT_JSON: RouteJsonLimits = {
  limits: { ...API_JSON_LIMITS, maxValues: MAX_RULES_PER_SITE * EARLY_REFUSAL_FACTOR * 12 },
  tooManyValues: (limit) => new HttpError(400, `the document holds more than ${limit} JSON values; ${tooManyRulesAdvice(MAX_RULES_PER_SITE)}`, 'too_many_rules'),
};

/**
 * Every change to a site's rules goes through here: validate with the engine's rules, store, then
 * recompile the site's files so the next downsync serves the change. Each change names its actor and
 * is written to the audit log here, so no path (API, form, import, one-click block) can skip it; after
 * the rebuild, so a failing audit write (a 500 the admin sees) never leaves a stored change unserved.
 */
export class RuleService {
  constructor(
    private readonly store: HubStore,
    private readonly builder: RulesBuilder,
    private readonly now: () => number,
    private readonly audit: AuditLog,
  ) {}

  list(siteId: number): Promise<StoredRule[]> {
    return this.store.listRules(siteId);
  }

  /** The rule an input becomes (validated, canonical value and id) without storing it; 400 when invalid. */
  preview(input: RuleInputBody): Rule {
    return validate(() => toRule(input));
  }

  async create(siteId: number, input: RuleInputBody, actor: Actor): Promise<StoredRule> {
    const rule = this.preview(input);
    if (await this.store.getRule(siteId, rule.id)) {
      throw new HttpError(409, `a rule with id ${rule.id} (${rule.kind} ${rule.value}) already exists`, 'rule_exists');
    }
    await this.checkCapacity(siteId, 1);
    await this.store.saveRules(siteId, [rule], { replace: false, now: this.nowSeconds() });
    await this.builder.rebuild(siteId);
    await this.audit.ruleCreated(actor, siteId, rule);
    return (await this.store.getRule(siteId, rule.id))!;
  }

  async update(siteId: number, ruleId: string, patch: RulePatch, actor: Actor): Promise<StoredRule> {
    const existing = await this.store.getRule(siteId, ruleId);
    if (!existing) throw new HttpError(404, 'no such rule', 'not_found');
    const mode = patch.mode ?? existing.mode;
    const next: Rule = existing.kind === 'rateLimit'
      ? { id: existing.id, action: 'block', kind: existing.kind, value: existing.value, mode, rateLimit: existing.rateLimit }
      : { id: existing.id, action: existing.action, kind: existing.kind, value: existing.value, mode };
    const note = patch.note === undefined ? existing.note : patch.note ?? undefined;
    if (note) next.note = note;
    const expires = patch.clearExpires ? undefined : patch.expires !== undefined ? toMillis(patch.expires) : existing.expires;
    if (expires !== undefined) next.expires = expires;
    // A change of mode can make a rule unsafe (a "/" path rule switched from monitor to block).
    const problems = unsafeRuleProblems(next);
    if (problems.length > 0) throw new HttpError(400, problems.join('; '), 'invalid_rule');
    await this.store.updateRule(siteId, next, this.nowSeconds());
    await this.builder.rebuild(siteId);
    await this.audit.ruleUpdated(actor, siteId, existing, next);
    return (await this.store.getRule(siteId, ruleId))!;
  }

  async remove(siteId: number, ruleId: string, actor: Actor): Promise<void> {
    const existing = await this.store.getRule(siteId, ruleId);
    if (!existing || !(await this.store.deleteRule(siteId, ruleId))) throw new HttpError(404, 'no such rule', 'not_found');
    await this.builder.rebuild(siteId);
    await this.audit.ruleDeleted(actor, siteId, existing);
  }

  /**
   * Imports a rules document. `replace` makes the site's rules exactly the document's; otherwise the
   * document's rules are added, and rules with the same id are overwritten.
   */
  async import(siteId: number, document: string | object, replace: boolean, actor: Actor): Promise<{ imported: number }> {
    // An `attacks` section sets the site's attack detection too (rules/attack-settings.ts); none leaves it as it is.
    // A `bots` section likewise sets the site's bot settings (rules/bot-settings.ts), its bot ids those of
    // the catalogue in force (a `bots` feed may name bots the shipped catalogue lacks).
    const { rules, attacks, bots } = await this.readDocument(document);
    const now = this.nowSeconds();
    // Ids only: a whole list of 10,000 rules is about 20 ms on the event loop, their ids a few.
    const before = await this.store.ruleIds(siteId);
    if (replace) {
      if (rules.length > MAX_RULES_PER_SITE) throw tooManyRules();
      await this.store.saveRules(siteId, rules, { replace: true, now });
    } else {
      const existing = new Set(before);
      const fresh = rules.filter((r) => !existing.has(r.id));
      await this.checkCapacity(siteId, fresh.length);
      for (const rule of rules) if (existing.has(rule.id)) await this.store.updateRule(siteId, rule, now);
      await this.store.saveRules(siteId, fresh, { replace: false, now });
    }
    if (attacks !== null) await this.store.saveAttackSettings(siteId, JSON.stringify(attackSettingsToDocument(attacks)), now);
    if (bots !== null) await this.store.saveBotSettings(siteId, JSON.stringify(botSettingsToDocument(bots)), now);
    await this.builder.rebuild(siteId);
    await this.audit.rulesImported(actor, siteId, rules, replace, before.length);
    return { imported: rules.length };
  }

  /** The rules a document holds (validated, canonical) without storing them; 400 when invalid. */
  async previewDocument(document: string | object): Promise<Rule[]> {
    return (await this.readDocument(document)).rules;
  }

  /** The whole document validated (bot ids against the hub's catalogue in force); 400 when invalid. */
  private async readDocument(document: string | object): Promise<RulesSource> {
    if (typeof document === 'object') {
      // Counted before it is turned back into text on the event loop (a 5.8 MB object of 700 000 addresses
      // held it ~0.4 s, and its worker 13 s more only to refuse it): one pass over the parsed body.
      const entries = countListEntries(document, MAX_RULES_PER_SITE * EARLY_REFUSAL_FACTOR);
      if (entries > MAX_RULES_PER_SITE * EARLY_REFUSAL_FACTOR) {
        throw new HttpError(400, `the document holds more than ${MAX_RULES_PER_SITE * EARLY_REFUSAL_FACTOR} list entries; ${tooManyRulesAdvice(MAX_RULES_PER_SITE)}`, 'too_many_rules');
      }
    }
    const text = typeof document === 'string' ? document : JSON.stringify(document);
    const catalogue = await hubBotCatalogue(this.store);
    try {
      return await readRulesDocument(text, 'import', catalogue, MAX_RULES_PER_SITE);
    } catch (error) {
      throw asHttpError(error);
    }
  }

  async export(siteId: number): Promise<object> {
    return rulesAsDocument(await this.store.listRules(siteId), await siteAttackSettings(this.store, siteId), await siteBotSettings(this.store, siteId));
  }

  private async checkCapacity(siteId: number, adding: number): Promise<void> {
    // Nothing added is never refused: a site over the cap from an older hub can still change its rules.
    if (adding > 0 && (await this.store.countRules(siteId)) + adding > MAX_RULES_PER_SITE) throw tooManyRules();
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

function validate<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw asHttpError(error);
  }
}

/** A RuleError is the admin's mistake, shown as it is; anything else stays a server error. */
function asHttpError(error: unknown): unknown {
  return error instanceof RuleError ? new HttpError(400, error.message, 'invalid_rule') : error;
}

function tooManyRules(): HttpError {
  return new HttpError(400, tooManyRulesAdvice(MAX_RULES_PER_SITE), 'too_many_rules');
}

/** A changed expiry, read as a new rule's is (Date.parse took Unix seconds, zoneless times and 2030-02-30). */
function toMillis(expires: number | string): number {
  try {
    return expiryMillis(expires);
  } catch (error) {
    throw asHttpError(error);
  }
}
