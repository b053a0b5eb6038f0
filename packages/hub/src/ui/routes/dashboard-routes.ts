import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sessionGuard } from '../../auth/guards.js';
import { safeNextPath } from '../../auth/login-routes.js';
import { countRuleHits } from '../../rules/rule-hits.js';
import type { HubContext } from '../../server/context.js';
import { describeError } from '../../server/error-handler.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf, stringParam, intParam } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import { loadOverview, loadTopLists } from '../../stats/overview.js';
import { reportQuerySchema, toReportFilter } from '../../stats/report-filter.js';
import { RANGES, parseRange } from '../../stats/time-range.js';
import type { Site, StoredRule } from '../../store/store.js';
import { clientsPage } from '../pages/clients-page.js';
import { overviewPage } from '../pages/overview-page.js';
import { requestsPage } from '../pages/requests-page.js';
import { rulesPage } from '../pages/rules-page.js';
import { setupPage } from '../pages/setup-page.js';
import { sitesPage } from '../pages/sites-page.js';
import { ruleInputFromForm } from './form-rule.js';

/** Fixed notices chosen by code, so a crafted link cannot put arbitrary text on a page. */
const NOTICES: Record<string, string> = {
  'site-created': 'Site created.',
  'rule-created': 'Rule created; clients get it on their next download.',
  'rule-updated': 'Rule updated.',
  'rule-deleted': 'Rule deleted.',
  'rule-exists': 'That rule already exists; its mode was set as asked.',
  'imported': 'Rules imported.',
  'key-revoked': 'API key revoked.',
};
const ERRORS: Record<string, string> = {
  'rule-invalid': 'That value cannot become a rule.',
};

type Form = Record<string, string>;
const quickSchema = z.object({
  kind: z.enum(['ip', 'path', 'userAgent', 'country']),
  value: z.string().min(1).max(1024),
  mode: z.enum(['block', 'monitor']),
  back: z.string().max(2048).optional(),
});

/** The server-rendered dashboard pages and their form posts (session + CSRF via the guard). */
export async function dashboardRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    const nowSeconds = () => Math.floor(ctx.now() / 1000);
    const userOf = (request: FastifyRequest) => ({ email: request.hubSession!.email, csrfToken: request.hubSession!.csrfToken });
    const send = (reply: FastifyReply, page: string, status = 200) =>
      reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page);
    const messages = (request: FastifyRequest) => {
      const q = request.query as { done?: string; error?: string };
      return { notice: q.done ? NOTICES[q.done] : undefined, error: q.error ? ERRORS[q.error] : undefined };
    };
    const siteAndList = async (request: FastifyRequest): Promise<{ site: Site; sites: Site[] }> => {
      const site = await sites.requireSite(siteIdOf(request));
      return { site, sites: await ctx.store.listSites() };
    };

    ui.get('/', async (_request, reply) => {
      const all = await ctx.store.listSites();
      return reply.redirect(all.length > 0 ? `/sites/${all[0]!.id}` : '/sites', 303);
    });
    ui.get('/sites', async (request, reply) => send(reply, sitesPage({ user: userOf(request), sites: await ctx.store.listSites(), ...messages(request) })));
    ui.post('/sites', async (request, reply) => {
      const name = String((request.body as Form)?.name ?? '').trim();
      if (!name || name.length > 100) {
        return send(reply, sitesPage({ user: userOf(request), sites: await ctx.store.listSites(), error: 'Give the site a name (up to 100 characters).' }), 400);
      }
      const site = await sites.createSite(name);
      return reply.redirect(`/sites/${site.id}/setup?done=site-created`, 303);
    });
    ui.get('/sites/go', async (request, reply) => {
      const id = Number((request.query as { site?: string }).site);
      return reply.redirect(Number.isInteger(id) && id > 0 ? `/sites/${id}` : '/sites', 303);
    });

    ui.get('/sites/:siteId', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const range = parseRange((request.query as { range?: string }).range);
      const [overview, top, rules] = await Promise.all([
        loadOverview(ctx.store, site.id, range, nowSeconds()),
        loadTopLists(ctx.store, site.id, range, nowSeconds(), 10),
        ctx.store.listRules(site.id),
      ]);
      return send(reply, overviewPage({
        user: userOf(request), site, sites: all, range, overview, top, countryLookup: ctx.hasCountryLookup,
        rateLimitLabels: rateLimitLabels(rules), ...messages(request),
      }));
    });

    ui.get('/sites/:siteId/requests', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const parsed = reportQuerySchema.safeParse(request.query);
      const q = parsed.success ? parsed.data : {};
      const page = await ctx.store.queryReports(site.id, toReportFilter(q), { limit: q.limit ?? 50, before: q.before });
      const { before: _b, limit: _l, ...filter } = q;
      return send(reply, requestsPage({
        user: userOf(request), site, sites: all, filter, page, error: parsed.success ? undefined : 'Some filters were invalid and were ignored.',
      }));
    });

    const renderRules = async (request: FastifyRequest, reply: FastifyReply, extra: { notice?: string; error?: string } = {}, status = 200) => {
      const { site, sites: all } = await siteAndList(request);
      const hitsRange = '7d' as const;
      const rules = await ctx.rules.list(site.id);
      const hits = countRuleHits(rules, await ctx.store.ruleHits(site.id, nowSeconds() - RANGES[hitsRange].seconds, nowSeconds() + 3600));
      const [moat, wafris] = await Promise.all([ctx.store.getBuild(site.id, 'moat'), ctx.store.getBuild(site.id, 'wafris')]);
      return send(reply, rulesPage({
        user: userOf(request), site, sites: all, rules, hits, hitsRange, builds: { moat, wafris }, now: ctx.now(),
        ...messages(request), ...extra,
      }), status);
    };
    ui.get('/sites/:siteId/rules', async (request, reply) => renderRules(request, reply));
    ui.post('/sites/:siteId/rules', async (request, reply) => {
      const siteId = siteIdOf(request);
      try {
        await ctx.rules.create(siteId, ruleInputFromForm((request.body ?? {}) as Form));
      } catch (error) {
        const { status, body } = describeError(error);
        if (status >= 500) throw error;
        const detail = body.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
        return renderRules(request, reply, { error: detail ? `${body.message} (${detail})` : body.message }, status);
      }
      return reply.redirect(`/sites/${siteId}/rules?done=rule-created`, 303);
    });
    ui.post('/sites/:siteId/rules/quick', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const parsed = quickSchema.safeParse(request.body);
      const back = safeNextPath(parsed.success ? parsed.data.back : undefined);
      const backTo = (param: string) => `${back.startsWith(`/sites/${siteId}`) ? back : `/sites/${siteId}`}${back.includes('?') ? '&' : '?'}${param}`;
      if (!parsed.success) return reply.redirect(backTo('error=rule-invalid'), 303);
      const { kind, value, mode } = parsed.data;
      try {
        await ctx.rules.create(siteId, { action: 'block', kind, value, mode, note: `one click from the top ${kind} list`, expires: undefined });
        return reply.redirect(backTo('done=rule-created'), 303);
      } catch (error) {
        if (error instanceof HttpError && error.code === 'rule_exists') {
          const existing = (await ctx.rules.list(siteId)).find((r) => r.kind === kind && r.action === 'block' && r.value.toLowerCase() === value.toLowerCase());
          if (existing) await ctx.rules.update(siteId, existing.id, { mode, expires: undefined });
          return reply.redirect(backTo('done=rule-exists'), 303);
        }
        if (error instanceof HttpError && error.statusCode < 500) return reply.redirect(backTo('error=rule-invalid'), 303);
        throw error;
      }
    });
    ui.post('/sites/:siteId/rules/import', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const form = (request.body ?? {}) as Form;
      try {
        if (!form.document?.trim()) throw new HttpError(400, 'paste a rules document first', 'invalid_request');
        await ctx.rules.import(siteId, form.document, form.replace === '1');
      } catch (error) {
        const { status, body } = describeError(error);
        if (status >= 500) throw error;
        return renderRules(request, reply, { error: body.message }, status);
      }
      return reply.redirect(`/sites/${siteId}/rules?done=imported`, 303);
    });
    ui.post('/sites/:siteId/rules/:ruleId/mode', async (request, reply) => {
      const siteId = siteIdOf(request);
      const mode = (request.body as Form)?.mode === 'monitor' ? 'monitor' : 'block';
      await ctx.rules.update(siteId, stringParam(request, 'ruleId', 64), { mode, expires: undefined });
      return reply.redirect(`/sites/${siteId}/rules?done=rule-updated`, 303);
    });
    ui.post('/sites/:siteId/rules/:ruleId/delete', async (request, reply) => {
      const siteId = siteIdOf(request);
      await ctx.rules.remove(siteId, stringParam(request, 'ruleId', 64));
      return reply.redirect(`/sites/${siteId}/rules?done=rule-deleted`, 303);
    });

    ui.get('/sites/:siteId/clients', async (request, reply) => {
      const { site, sites: all } = await siteAndList(request);
      const [moat, wafris] = await Promise.all([ctx.store.getBuild(site.id, 'moat'), ctx.store.getBuild(site.id, 'wafris')]);
      return send(reply, clientsPage({
        user: userOf(request), site, sites: all, clients: await ctx.store.listClients(site.id),
        reporters: await ctx.store.listReporters(site.id), currentFiles: { moat: moat?.fileName, wafris: wafris?.fileName },
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
      const { key } = await sites.createKey(siteIdOf(request), label);
      // Rendered directly (not redirected) so the key never appears in a URL or a later page.
      return renderSetup(request, reply, key);
    });
    ui.post('/sites/:siteId/keys/:keyId/revoke', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.revokeKey(siteId, intParam(request, 'keyId'));
      return reply.redirect(`/sites/${siteId}/setup?done=key-revoked`, 303);
    });
  });
}

/**
 * Rate-limit decisions report the rule id (as Wafris clients do); the overview shows what the rule
 * limits instead, e.g. "POST /login 5 per 60s".
 */
function rateLimitLabels(rules: readonly StoredRule[]): ReadonlyMap<string, string> {
  const labels = new Map<string, string>();
  for (const r of rules) {
    const rl = r.rateLimit;
    if (rl) labels.set(r.id, `${rl.method ? `${rl.method} ` : ''}${rl.path}${rl.match === 'prefix' && !rl.path.endsWith('*') ? '*' : ''} ${rl.limit} per ${rl.windowMs / 1000}s`);
  }
  return labels;
}
