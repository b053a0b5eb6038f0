import { formatRateLimitKey } from 'moat-waf';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../../audit/actor.js';
import { visibleSites } from '../../auth/access-policy.js';
import { sessionGuard } from '../../auth/guards.js';
import { safeNextPath } from '../../auth/login-routes.js';
import { QUICK_BLOCK_KINDS, quickBlockValue, quickRuleProblem } from '../../rules/quick-block.js';
import { broadRuleReason } from '../../rules/rule-breadth.js';
import { ruleConcerns } from '../../rules/rule-confirmation.js';
import { countRuleHits, ruleHitKeys } from '../../rules/rule-hits.js';
import type { RuleInputBody } from '../../rules/rule-input.js';
import type { HubContext } from '../../server/context.js';
import { describeError } from '../../server/error-handler.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf, stringParam, intParam } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import { loadOverview, loadTopLists, rangeFittingData } from '../../stats/overview.js';
import { reportQuerySchema, toReportFilter } from '../../stats/report-filter.js';
import { RANGES, parseRange } from '../../stats/time-range.js';
import type { Site, StoredRule } from '../../store/store.js';
import { clientsPage } from '../pages/clients-page.js';
import { overviewPage } from '../pages/overview-page.js';
import { coverageLookup } from '../rule-coverage.js';
import { confirmRulePage, quickBlockRefusedPage, ruleLabel, type ConfirmRuleInput } from '../pages/rule-check-pages.js';
import { requestsPage } from '../pages/requests-page.js';
import { pageOfRules, ruleLink, rulesPage, type RuleListQuery } from '../pages/rules-page.js';
import { previewWorkers } from '../../rules/preview-pool.js';
import { attackSettingsSection } from '../pages/attacks-panel.js';
import { siteAttackSettings } from '../../rules/attack-settings.js';
import { botSettingsSection } from '../pages/rules-bots.js';
import { hubBotCatalogue, siteBotSettings } from '../../rules/bot-settings.js';
import { ruleAuditSection } from '../pages/audit-page.js';
import { setupPage } from '../pages/setup-page.js';
import { sitesPage } from '../pages/sites-page.js';
import { ruleInputFromForm } from './form-rule.js';
import { ipDetailRoutes } from './ip-detail-routes.js';
import { QUICK_EXPIRIES, QUICK_EXPIRY_NAMES } from '../pages/quick-actions.js';
import { fieldOfError, ruleFormProblems } from './rule-form-check.js';
import type { RuleFormState } from '../pages/rules-page.js';

/** Fixed notices chosen by code, so a crafted link cannot put arbitrary text on a page. */
const NOTICES: Record<string, string> = {
  'site-created': 'Site created.',
  'rule-created': 'Rule created; clients get it on their next download.',
  'rule-updated': 'Rule updated.',
  'rule-deleted': 'Rule deleted.',
  'rule-exists': 'That rule already exists; its mode was set as asked.',
  'imported': 'Rules imported.',
  'attacks-saved': 'Attack settings saved; clients get them on their next download.',
  'bots-saved': 'Bot settings saved; clients get them on their next download.',
  'key-revoked': 'API key revoked.',
};
const ERRORS: Record<string, string> = {
  'rule-invalid': 'That value cannot become a rule.',
};

type Form = Record<string, string>;
const quickSchema = z.object({
  kind: z.enum(QUICK_BLOCK_KINDS),
  // Longer than any rule value, so that an over-long reported value gets a clear refusal, not a bare 400.
  value: z.string().max(8192),
  mode: z.enum(['block', 'monitor']),
  back: z.string().max(2048).optional(),
  confirm: z.literal('1').optional(),
  expires: z.enum(QUICK_EXPIRY_NAMES).optional(),
});
/** The "Add a rule" form's fields that its confirmation page posts again. */
const RULE_FORM_FIELDS = ['action', 'kind', 'value', 'mode', 'note', 'expires', 'rl_path', 'rl_method', 'rl_limit', 'rl_window', 'rl_key_by', 'rl_key_name'] as const;

/** The server-rendered dashboard pages and their form posts (session + CSRF via the guard). */
export async function dashboardRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    const nowSeconds = () => Math.floor(ctx.now() / 1000);
    const userOf = (request: FastifyRequest) => ({ email: request.hubSession!.email, csrfToken: request.hubSession!.csrfToken, role: request.hubSession!.role });
    const send = (reply: FastifyReply, page: string, status = 200) =>
      reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page);
    const messages = (request: FastifyRequest) => {
      const q = request.query as { done?: string; error?: string };
      return { notice: q.done ? NOTICES[q.done] : undefined, error: q.error ? ERRORS[q.error] : undefined };
    };
    const siteAndList = async (request: FastifyRequest): Promise<{ site: Site; sites: Site[] }> => {
      const site = await sites.requireSite(siteIdOf(request));
      return { site, sites: await visibleSites(ctx.store, request.hubSession!) };
    };

    ui.get('/', async (request, reply) => {
      const all = await visibleSites(ctx.store, request.hubSession!);
      return reply.redirect(all.length > 0 ? `/sites/${all[0]!.id}` : '/sites', 303);
    });
    ui.get('/sites', async (request, reply) => send(reply, sitesPage({ user: userOf(request), sites: await visibleSites(ctx.store, request.hubSession!), ...messages(request) })));
    ui.post('/sites', async (request, reply) => {
      const name = String((request.body as Form)?.name ?? '').trim();
      if (!name || name.length > 100) {
        return send(reply, sitesPage({ user: userOf(request), sites: await ctx.store.listSites(), error: 'Give the site a name (up to 100 characters).' }), 400);
      }
      const site = await sites.createSite(name, actorOf(request));
      return reply.redirect(`/sites/${site.id}/setup?done=site-created`, 303);
    });
    ui.get('/sites/go', async (request, reply) => {
      const id = Number((request.query as { site?: string }).site);
      return reply.redirect(Number.isInteger(id) && id > 0 ? `/sites/${id}` : '/sites', 303);
    });

    ui.get('/sites/:siteId', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const asked = (request.query as { range?: string }).range;
      const range = asked ? parseRange(asked) : await rangeFittingData(ctx.store, site.id, nowSeconds());
      const [overview, top] = await Promise.all([
        loadOverview(ctx.store, site.id, range, nowSeconds()),
        loadTopLists(ctx.store, site.id, range, nowSeconds(), 10),
      ]);
      // Only the rules that may cover a value shown, and the rate limits the rules list names.
      const rules = await ctx.store.rulesFor(site.id, coverageLookup(
        (['ip', 'path', 'userAgent', 'country'] as const).flatMap((kind) => top[kind].map((e) => ({ kind, value: e.value }))),
        top.rule.map((e) => e.value.split('\t')).filter(([category]) => category === 'brl').map(([, id]) => id ?? ''),
      ));
      return send(reply, overviewPage({
        user: userOf(request), site, sites: all, range, overview, top, countryLookup: ctx.hasCountryLookup,
        rateLimitLabels: rateLimitLabels(rules), rules, now: ctx.now(), ...messages(request),
      }));
    });

    ui.get('/sites/:siteId/requests', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const parsed = reportQuerySchema.safeParse(request.query);
      const q = parsed.success ? parsed.data : {};
      const reportFilter = toReportFilter(q);
      const [page, passed] = await Promise.all([
        ctx.store.queryReports(site.id, reportFilter, { limit: q.limit ?? 50, before: q.before }),
        ctx.store.passedSampling(site.id, reportFilter.from ?? 0, reportFilter.to ?? nowSeconds() + 3600),
      ]);
      const { before: _b, limit: _l, ...filter } = q;
      return send(reply, requestsPage({
        user: userOf(request), site, sites: all, filter, page, passed, error: parsed.success ? undefined : 'Some filters were invalid and were ignored.',
      }));
    });

    const renderRules = async (request: FastifyRequest, reply: FastifyReply, extra: { notice?: string; error?: string; form?: RuleFormState } = {}, status = 200) => {
      const { site, sites: all } = await siteAndList(request);
      const hitsRange = '7d' as const;
      const list = await pageOfRules(ctx.store, site.id, ruleListQuery(request.query));
      const total = list.query.q === undefined ? list.matching : await ctx.store.countRules(site.id);
      const hits = countRuleHits(list.rules, await ctx.store.ruleHits(site.id, nowSeconds() - RANGES[hitsRange].seconds, nowSeconds() + 3600, ruleHitKeys(list.rules)));
      const [moat, wafris] = await Promise.all([ctx.store.getBuild(site.id, 'moat'), ctx.store.getBuild(site.id, 'wafris')]);
      // An admin may preview a draft from this page: the preview workers start now, not on the first preview.
      if (userOf(request).role === 'admin') previewWorkers.warm();
      return send(reply, rulesPage({
        user: userOf(request), site, sites: all, list, total, hits, hitsRange, builds: { moat, wafris }, now: ctx.now(),
        audit: ruleAuditSection(site.id, await ctx.audit.list({ siteId: site.id, limit: 10 })),
        attacks: attackSettingsSection(site.id, userOf(request).csrfToken, await siteAttackSettings(ctx.store, site.id), `/sites/${site.id}/rules`),
        bots: botSettingsSection(site.id, userOf(request).csrfToken, await siteBotSettings(ctx.store, site.id), await hubBotCatalogue(ctx.store)),
        ...messages(request), ...extra,
      }), status);
    };
    ui.get('/sites/:siteId/rules', async (request, reply) => renderRules(request, reply));

    /** The confirmation page for a rule the admin asked for but should look at twice; stores nothing. */
    const askToConfirm = async (request: FastifyRequest, reply: FastifyReply, page: Omit<ConfirmRuleInput, 'user' | 'site' | 'sites'>) => {
      const { site, sites: all } = await siteAndList(request);
      return send(reply, confirmRulePage({ user: userOf(request), site, sites: all, ...page }));
    };

    ui.post('/sites/:siteId/rules', async (request, reply) => {
      const siteId = siteIdOf(request);
      const form = (request.body ?? {}) as Form;
      let created: StoredRule;
      try {
        const problems = ruleFormProblems(form);
        if (Object.keys(problems).length > 0) {
          return await renderRules(request, reply, { error: 'The rule was not created: see the marked fields.', form: { values: form, errors: problems } }, 400);
        }
        const input = ruleInputFromForm(form);
        // A control character cannot survive a round trip through the confirmation page's form intact.
        if (/\p{Cc}/u.test(input.value)) throw new HttpError(400, 'the value holds control characters (such as a line break or NUL)', 'invalid_rule');
        if (form.confirm !== '1') {
          const rule = ctx.rules.preview(input);
          const { reasons, impact } = await ruleConcerns(ctx.store, siteId, rule, nowSeconds());
          if (reasons.length > 0) {
            const fields: Record<string, string> = {};
            for (const name of RULE_FORM_FIELDS) if (typeof form[name] === 'string') fields[name] = form[name];
            return await askToConfirm(request, reply, { rule, reasons, impact, postTo: `/sites/${siteId}/rules`, fields, cancel: `/sites/${siteId}/rules` });
          }
        }
        created = await ctx.rules.create(siteId, input, actorOf(request));
      } catch (error) {
        const { status, body } = describeError(error);
        if (status >= 500) throw error;
        const detail = body.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
        return renderRules(request, reply, {
          error: detail ? `${body.message} (${detail})` : body.message, form: { values: form, errors: fieldOfError(error, form.kind) },
        }, status);
      }
      // To the new rule's row, on whichever page of a long list it is.
      return reply.redirect(ruleLink(siteId, created.id).replace('?', '?done=rule-created&'), 303);
    });
    // One click from a top list. The posted value is what a client reported, i.e. attacker text: it
    // becomes exactly one narrow rule or nothing (see quickBlockValue), and a rule that would have
    // blocked a large share of recent traffic waits for an explicit confirm.
    ui.post('/sites/:siteId/rules/quick', async (request, reply) => {
      const siteId = siteIdOf(request);
      const site = await sites.requireSite(siteId);
      const parsed = quickSchema.safeParse(request.body);
      const back = safeNextPath(parsed.success ? parsed.data.back : undefined);
      const backPath = back.startsWith(`/sites/${siteId}`) ? back : `/sites/${siteId}`;
      const backTo = (param: string) => `${backPath}${backPath.includes('?') ? '&' : '?'}${param}`;
      const refuse = async (kind: string, value: string, reason: string) => send(reply, quickBlockRefusedPage({
        user: userOf(request), site, sites: await ctx.store.listSites(), kind, value, reason, back: backPath,
      }), 400);
      if (!parsed.success) {
        const body = (request.body ?? {}) as Record<string, unknown>;
        return refuse(String(body.kind ?? '').slice(0, 40), String(body.value ?? ''), 'the form was incomplete or had an unknown kind');
      }
      const { kind, value: reported, mode, confirm } = parsed.data;
      const expiresAfter = QUICK_EXPIRIES[parsed.data.expires ?? 'never'];
      const expires = expiresAfter === null ? undefined : ctx.now() + expiresAfter;
      const derived = quickBlockValue(kind, reported);
      if (!derived.ok) return refuse(kind, reported, derived.reason);
      const input: RuleInputBody = { action: 'block', kind, value: derived.value, mode, note: `one click from the top ${kind} list`, expires };
      let rule: ReturnType<typeof ctx.rules.preview>;
      try {
        rule = ctx.rules.preview(input);
      } catch (error) {
        if (error instanceof HttpError && error.statusCode < 500) return refuse(kind, reported, error.message);
        throw error;
      }
      // Checked again after the engine's normalisation: what is stored is what was checked.
      const problem = quickRuleProblem(rule);
      if (problem) return refuse(kind, reported, problem);
      const existing = await ctx.store.getRule(siteId, rule.id);
      if (existing?.mode === mode) return reply.redirect(backTo('done=rule-exists'), 303);
      if (confirm !== '1') {
        const { reasons, impact } = await ruleConcerns(ctx.store, siteId, rule, nowSeconds());
        if (reasons.length > 0) {
          return askToConfirm(request, reply, {
            rule, reasons, impact, postTo: `/sites/${siteId}/rules/quick`,
            fields: { kind, value: rule.value, mode, back: backPath, expires: parsed.data.expires ?? 'never' }, cancel: backPath,
          });
        }
      }
      if (existing) {
        // Clicking "monitor" on a blocked value (or the reverse) switches the rule's mode.
        // The expiry chosen with the click replaces the old one ("never" clears it).
        await ctx.rules.update(siteId, existing.id, { mode, expires, clearExpires: expires === undefined }, actorOf(request));
        return reply.redirect(backTo('done=rule-exists'), 303);
      }
      try {
        await ctx.rules.create(siteId, input, actorOf(request));
      } catch (error) {
        if (error instanceof HttpError && error.code === 'rule_exists') return reply.redirect(backTo('done=rule-exists'), 303);
        if (error instanceof HttpError && error.statusCode < 500) return refuse(kind, reported, error.message);
        throw error;
      }
      return reply.redirect(backTo('done=rule-created'), 303);
    });
    ui.post('/sites/:siteId/rules/import', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const form = (request.body ?? {}) as Form;
      try {
        if (!form.document?.trim()) throw new HttpError(400, 'paste a rules document first', 'invalid_request');
        if (form.confirm !== '1') {
          // Breadth only: a document may hold thousands of rules, too many to measure against traffic.
          const reasons: string[] = [];
          for (const rule of await ctx.rules.previewDocument(form.document)) {
            const broad = broadRuleReason(rule);
            if (broad) reasons.push(`${ruleLabel(rule)}: ${broad}`);
            if (reasons.length >= 20) break;
          }
          if (reasons.length > 0) {
            const fields: Record<string, string> = { document: form.document };
            if (form.replace === '1') fields.replace = '1';
            const base = `/sites/${siteId}/rules`;
            return await askToConfirm(request, reply, { reasons, postTo: `${base}/import`, fields, cancel: base });
          }
        }
        await ctx.rules.import(siteId, form.document, form.replace === '1', actorOf(request));
      } catch (error) {
        const { status, body } = describeError(error);
        if (status >= 500) throw error;
        return renderRules(request, reply, { error: body.message }, status);
      }
      return reply.redirect(`/sites/${siteId}/rules?done=imported`, 303);
    });
    ui.post('/sites/:siteId/rules/:ruleId/mode', async (request, reply) => {
      const siteId = siteIdOf(request);
      const form = (request.body ?? {}) as Form;
      const mode = form.mode === 'monitor' ? 'monitor' : 'block';
      const ruleId = stringParam(request, 'ruleId', 64);
      const existing = await ctx.store.getRule(siteId, ruleId);
      if (!existing) throw new HttpError(404, 'no such rule', 'not_found');
      // Switching a monitor rule to block is when it starts blocking: the same check as creating it.
      if (mode === 'block' && existing.mode !== 'block' && form.confirm !== '1') {
        const { reasons, impact } = await ruleConcerns(ctx.store, siteId, { ...existing, mode }, nowSeconds());
        if (reasons.length > 0) {
          const base = `/sites/${siteId}/rules`;
          return askToConfirm(request, reply, {
            rule: { ...existing, mode }, reasons, impact, postTo: `${base}/${encodeURIComponent(ruleId)}/mode`, fields: { mode }, cancel: base,
          });
        }
      }
      await ctx.rules.update(siteId, ruleId, { mode, expires: undefined }, actorOf(request));
      return reply.redirect(`/sites/${siteId}/rules?done=rule-updated`, 303);
    });
    ui.post('/sites/:siteId/rules/:ruleId/delete', async (request, reply) => {
      const siteId = siteIdOf(request);
      await ctx.rules.remove(siteId, stringParam(request, 'ruleId', 64), actorOf(request));
      return reply.redirect(`/sites/${siteId}/rules?done=rule-deleted`, 303);
    });

    ui.get('/sites/:siteId/clients', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const [moat, wafris] = await Promise.all([ctx.store.getBuild(site.id, 'moat'), ctx.store.getBuild(site.id, 'wafris')]);
      return send(reply, clientsPage({
        user: userOf(request), site, sites: all, clients: await ctx.store.listClients(site.id),
        reporters: await ctx.store.listReporters(site.id), currentFiles: { moat: moat?.fileName, wafris: wafris?.fileName },
        keys: await ctx.store.listApiKeys(site.id),
      }));
    });

    const renderSetup = async (request: FastifyRequest, reply: FastifyReply, newKey?: string) => {
      const { site, sites: all } = await siteAndList(request);
      return send(reply, setupPage({
        user: userOf(request), site, sites: all, keys: await ctx.store.listApiKeys(site.id), hubUrl: ctx.publicUrl(),
        publicKey: ctx.signingKey?.publicKeyBase64, newKey, ...messages(request),
      }));
    };
    ui.get('/sites/:siteId/setup', async (request, reply) => renderSetup(request, reply));
    ui.post('/sites/:siteId/keys', async (request, reply) => {
      const label = String((request.body as Form)?.label ?? '').trim().slice(0, 100) || 'default';
      const { key } = await sites.createKey(siteIdOf(request), label, actorOf(request));
      // Rendered directly (not redirected) so the key never appears in a URL or a later page.
      return renderSetup(request, reply, key);
    });
    ui.post('/sites/:siteId/keys/:keyId/revoke', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.revokeKey(siteId, intParam(request, 'keyId'), actorOf(request));
      return reply.redirect(`/sites/${siteId}/setup?done=key-revoked`, 303);
    });
  });
  await ipDetailRoutes(app, ctx, sites);
}

/** The Rules page's list query from the URL; anything malformed is left out (the first page, no search). */
function ruleListQuery(query: unknown): RuleListQuery {
  const q = (query ?? {}) as Record<string, unknown>;
  const text = (value: unknown, max: number) => (typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined);
  const page = typeof q.page === 'string' && /^[1-9]\d{0,5}$/.test(q.page) ? Number(q.page) : undefined;
  return { q: text(q.q, 200), page, rule: text(q.rule, 300) };
}

/**
 * Rate-limit decisions report the rule id (as Wafris clients do); the overview shows what the rule
 * limits instead, e.g. "POST /login 5 per 60s".
 */
function rateLimitLabels(rules: readonly StoredRule[]): ReadonlyMap<string, string> {
  const labels = new Map<string, string>();
  for (const r of rules) {
    const rl = r.rateLimit;
    if (rl) labels.set(r.id, `${rl.method ? `${rl.method} ` : ''}${rl.path}${rl.match === 'prefix' && !rl.path.endsWith('*') ? '*' : ''} ${rl.limit} per ${rl.windowMs / 1000}s${rl.key ? ` per ${formatRateLimitKey(rl.key)}` : ''}`);
  }
  return labels;
}
