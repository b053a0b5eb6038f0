import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../audit/actor.js';
import type { HubContext } from '../server/context.js';
import { intParam, siteIdOf } from '../server/params.js';
import type { SiteService } from '../sites/site-service.js';
import { parseThresholdInput, thresholdInputFromForm } from '../thresholds/threshold-input.js';
import { ThresholdPreviews } from '../thresholds/threshold-preview.js';
import { previewJobRoutes } from '../ui/routes/preview-job-routes.js';

const banQuery = z.object({
  mode: z.enum(['enforce', 'monitor']).default('enforce'),
  /** `all` lists lifted and expired bans too (newest first). */
  state: z.enum(['active', 'all']).default('active'),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/**
 * Auto-ban in the JSON API (inside apiRoutes' session guard): threshold rules under
 * /api/sites/:siteId/thresholds, bans under /api/sites/:siteId/bans. Reading is open to the site's
 * viewers (with the site's own figures only); changing (create, edit, delete, lift) is for admins, as everywhere.
 */
export function thresholdApiRoutes(api: FastifyInstance, ctx: HubContext, sites: SiteService): void {
  const read = { config: { access: 'signed-in' as const } };
  // A backtest of a draft (see thresholds/threshold-preview.ts), with the ban service's allow list and caps.
  const bans = ctx.thresholds;
  previewJobRoutes(api, sites, {
    path: 'thresholds',
    previews: new ThresholdPreviews({
      store: ctx.store, now: ctx.now, allowRanges: (siteId) => bans.allowRanges(siteId),
      maxActiveBans: bans.options.maxActiveBansPerSite, maxCounterKeys: bans.options.maxCounterKeys,
    }),
    draftOf: (body) => (body.form ? thresholdInputFromForm(body.form) : parseThresholdInput(body.rule)),
    formValueMax: 2048,
  });

  // `stats` is the site's own; the hub-wide figures (every site's activity) only for admins, as `hubStats`.
  const statsFor = (request: FastifyRequest, siteId: number) => ({
    stats: ctx.thresholds.siteStats(siteId),
    ...(request.hubSession?.role === 'admin' ? { hubStats: ctx.thresholds.stats() } : {}),
  });

  api.get('/api/sites/:siteId/thresholds', read, async (request) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    return { rules: await ctx.thresholds.listRules(siteId), ...statsFor(request, siteId) };
  });
  api.post('/api/sites/:siteId/thresholds', async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const input = parseThresholdInput(request.body);
    return reply.code(201).send({ rule: await ctx.thresholds.createRule(siteId, input, actorOf(request)) });
  });
  api.put('/api/sites/:siteId/thresholds/:ruleId', async (request) => {
    const siteId = siteIdOf(request);
    const input = parseThresholdInput(request.body);
    return { rule: await ctx.thresholds.updateRule(siteId, intParam(request, 'ruleId'), input, actorOf(request)) };
  });
  api.delete('/api/sites/:siteId/thresholds/:ruleId', async (request, reply) => {
    await ctx.thresholds.deleteRule(siteIdOf(request), intParam(request, 'ruleId'), actorOf(request));
    return reply.code(204).send();
  });
  api.get('/api/sites/:siteId/thresholds/events', read, async (request) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    return { events: await ctx.thresholds.listEvents(siteId), ...statsFor(request, siteId) };
  });

  api.get('/api/sites/:siteId/bans', read, async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const q = banQuery.parse(request.query);
    return reply.header('Cache-Control', 'no-store').send({ bans: await ctx.thresholds.listBans(siteId, q.mode, q.state === 'active', q.limit) });
  });
  api.post('/api/sites/:siteId/bans/:banId/lift', async (request) => {
    const siteId = siteIdOf(request);
    return { ban: await ctx.thresholds.liftBan(siteId, intParam(request, 'banId'), actorOf(request)) };
  });
}
