import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../audit/actor.js';
import { visibleSites } from '../auth/access-policy.js';
import { sessionGuard } from '../auth/guards.js';
import { importSchema, ruleInputSchema, rulePatchSchema } from '../rules/rule-input.js';
import { IMPORT_JSON } from '../rules/rule-service.js';
import { countRuleHits, ruleHitKeys } from '../rules/rule-hits.js';
import { ruleFilter } from '../rules/rule-filter.js';
import { encodeRuleCursor, ruleCursorParam } from '../rules/rule-cursor.js';
import { rulePreviewRoutes } from '../ui/routes/rule-preview-routes.js';
import type { HubContext } from '../server/context.js';
import { intParam, siteIdOf, stringParam } from '../server/params.js';
import type { SiteService } from '../sites/site-service.js';
import { loadOverview, loadTopLists } from '../stats/overview.js';
import { reportQuerySchema, toReportFilter } from '../stats/report-filter.js';
import { RANGES, parseRange } from '../stats/time-range.js';
import { TOP_DIMENSIONS, type TopDimension } from '../store/store.js';
import { accessSchema, inviteSchema } from '../users/user-input.js';
import { UserService } from '../users/user-service.js';
import { thresholdApiRoutes } from './threshold-api-routes.js';

const siteSchema = z.object({ name: z.string().trim().min(1).max(100) });
const keySchema = z.object({ label: z.string().trim().max(100).default('') });
const topQuery = z.object({
  range: z.string().max(8).optional(),
  dim: z.enum(TOP_DIMENSIONS as unknown as [TopDimension, ...TopDimension[]]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});
/**
 * GET /api/sites/:id/rules: a page of at most 1,000 rules, filtered by `q` (as the Rules page's search),
 * from `after` (the previous page's `next`: nothing skipped or repeated while rules change) or `offset`.
 */
const rulesQuery = z.object({
  range: z.string().max(8).optional(),
  q: z.string().max(200).optional(),
  after: ruleCursorParam.optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
}).refine((q) => q.after === undefined || q.offset === undefined, { message: 'pass after or offset, not both', path: ['offset'] });
const auditQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  site: z.coerce.number().int().positive().optional(),
});

/**
 * The JSON API behind the dashboard, under /api: a session cookie, plus `x-csrf-token` on every
 * changing request (the guard checks both, and the role's access: see auth/access-policy.ts). API keys
 * are not accepted here: they only serve downsync and upsync.
 */
export async function apiRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (api) => {
    api.addHook('preHandler', sessionGuard(ctx, 'api'));
    const nowSeconds = () => Math.floor(ctx.now() / 1000);
    const users = new UserService(ctx.store, ctx.audit);

    api.get('/api/me', async (request) => {
      const s = request.hubSession!;
      return { email: s.email, csrfToken: s.csrfToken, mustChangePassword: s.mustChangePassword, role: s.role, siteIds: s.siteIds };
    });

    api.get('/api/sites', async (request) => ({ sites: await visibleSites(ctx.store, request.hubSession!) }));
    api.post('/api/sites', async (request, reply) => {
      const { name } = siteSchema.parse(request.body);
      return reply.code(201).send({ site: await sites.createSite(name, actorOf(request)) });
    });

    api.get('/api/sites/:siteId/keys', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      return { keys: await ctx.store.listApiKeys(siteId) };
    });
    api.post('/api/sites/:siteId/keys', async (request, reply) => {
      const { label } = keySchema.parse(request.body ?? {});
      const { key, info } = await sites.createKey(siteIdOf(request), label, actorOf(request));
      // The only time the key's plain text leaves the hub.
      return reply.code(201).header('Cache-Control', 'no-store').send({ key, info });
    });
    api.delete('/api/sites/:siteId/keys/:keyId', async (request, reply) => {
      await sites.revokeKey(siteIdOf(request), intParam(request, 'keyId'), actorOf(request));
      return reply.code(204).send();
    });

    api.get('/api/sites/:siteId/rules', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const q = rulesQuery.parse(request.query);
      const range = parseRange(q.range ?? '7d');
      // One page at a time: a site may hold 10 000 rules, and listing them all held the event loop 100-150 ms.
      const filter = ruleFilter(q.q);
      const total = await ctx.store.countRules(siteId, filter);
      const { rules, next } = await ctx.store.rulesPage(siteId, filter, q.after ? { after: q.after } : { offset: q.offset ?? 0 }, q.limit);
      const { from, to } = { from: nowSeconds() - RANGES[range].seconds, to: nowSeconds() + 3600 };
      const hits = countRuleHits(rules, await ctx.store.ruleHits(siteId, from, to, ruleHitKeys(rules)));
      return {
        rules: rules.map((r) => ({ ...r, hits: hits.get(r.id) ?? { hits: 0, wouldBlock: 0 } })), total,
        offset: q.after ? null : q.offset ?? 0, limit: q.limit, next: next === null ? null : encodeRuleCursor(next),
      };
    });
    api.post('/api/sites/:siteId/rules', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const input = ruleInputSchema.parse(request.body);
      return reply.code(201).send({ rule: await ctx.rules.create(siteId, input, actorOf(request)) });
    });
    api.patch('/api/sites/:siteId/rules/:ruleId', async (request) => {
      const siteId = siteIdOf(request);
      return { rule: await ctx.rules.update(siteId, stringParam(request, 'ruleId', 64), rulePatchSchema.parse(request.body), actorOf(request)) };
    });
    api.delete('/api/sites/:siteId/rules/:ruleId', async (request, reply) => {
      await ctx.rules.remove(siteIdOf(request), stringParam(request, 'ruleId', 64), actorOf(request));
      return reply.code(204).send();
    });
    await rulePreviewRoutes(api, ctx, sites);
    api.post('/api/sites/:siteId/rules/import', { config: { json: IMPORT_JSON } }, async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const body = importSchema.parse(request.body);
      return ctx.rules.import(siteId, body.document, body.replace, actorOf(request));
    });
    api.get('/api/sites/:siteId/rules/export', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      return reply.header('Content-Disposition', `attachment; filename=rules-site-${siteId}.json`)
        .send(await ctx.rules.export(siteId));
    });

    api.get('/api/sites/:siteId/stats/overview', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const range = parseRange((request.query as { range?: string }).range);
      return reply.header('Cache-Control', 'no-store').send(await loadOverview(ctx.store, siteId, range, nowSeconds()));
    });
    api.get('/api/sites/:siteId/stats/top', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const q = topQuery.parse(request.query);
      const lists = await loadTopLists(ctx.store, siteId, parseRange(q.range), nowSeconds(), q.limit);
      return q.dim ? { [q.dim]: lists[q.dim] } : lists;
    });
    api.get('/api/sites/:siteId/requests', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const q = reportQuerySchema.parse(request.query);
      return ctx.store.queryReports(siteId, toReportFilter(q), { limit: q.limit ?? 50, before: q.before });
    });
    api.get('/api/sites/:siteId/clients', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      return { clients: await ctx.store.listClients(siteId), reporters: await ctx.store.listReporters(siteId) };
    });

    // The audit log: one site's entries for whoever may see the site; everything for admins.
    api.get('/api/sites/:siteId/audit', async (request) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const q = auditQuery.parse(request.query);
      return ctx.audit.list({ siteId, before: q.before, limit: q.limit });
    });
    api.get('/api/audit', async (request) => {
      const q = auditQuery.parse(request.query);
      return ctx.audit.list({ siteId: q.site, before: q.before, limit: q.limit });
    });

    thresholdApiRoutes(api, ctx, sites);

    // Users (admins only, as every route not opened in the access policy).
    api.get('/api/users', async () => ({ users: await users.list() }));
    api.post('/api/users', async (request, reply) => {
      const { user, oneTimePassword } = await users.invite(inviteSchema.parse(request.body), actorOf(request));
      // The only time the one-time password leaves the hub; the invited user must replace it.
      return reply.code(201).header('Cache-Control', 'no-store').send({ user, oneTimePassword });
    });
    api.patch('/api/users/:userId', async (request) => ({
      user: await users.setAccess(intParam(request, 'userId'), accessSchema.parse(request.body), actorOf(request)),
    }));
    api.delete('/api/users/:userId', async (request, reply) => {
      await users.remove(intParam(request, 'userId'), actorOf(request));
      return reply.code(204).send();
    });
  });
}
