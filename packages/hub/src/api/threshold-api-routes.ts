import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../audit/actor.js';
import type { HubContext } from '../server/context.js';
import { intParam, siteIdOf } from '../server/params.js';
import type { SiteService } from '../sites/site-service.js';
import { HttpError } from '../server/http-error.js';
import { PREVIEW_RANGES, type PreviewRange } from '../rules/rule-preview.js';
import { parseThresholdInput, thresholdInputFromForm } from '../thresholds/threshold-input.js';
import { ThresholdPreviews } from '../thresholds/threshold-preview.js';

const banQuery = z.object({
  mode: z.enum(['enforce', 'monitor']).default('enforce'),
  /** `all` lists lifted and expired bans too (newest first). */
  state: z.enum(['active', 'all']).default('active'),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/**
 * Auto-ban in the JSON API (inside apiRoutes' session guard): threshold rules under
 * /api/sites/:siteId/thresholds, bans under /api/sites/:siteId/bans. Reading is open to the site's
 * viewers; changing (create, edit, delete, lift) is for admins, as everywhere.
 */
export function thresholdApiRoutes(api: FastifyInstance, ctx: HubContext, sites: SiteService): void {
  const read = { config: { access: 'signed-in' as const } };
  const previews = thresholdPreviews(api, ctx);

  // A backtest of a draft (see thresholds/threshold-preview.ts): admins only, like every change; the
  // draft is bounded (16 KB) and checked by the rule schema before any scan starts.
  api.post('/api/sites/:siteId/thresholds/preview', { bodyLimit: PREVIEW_BODY_LIMIT }, async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const body = previewBody.parse(request.body);
    const input = body.form ? thresholdInputFromForm(body.form) : parseThresholdInput(body.rule);
    const job = await previews.start(siteId, input, body.range);
    return reply.code(202).header('Cache-Control', 'no-store').send({ job });
  });
  api.get('/api/sites/:siteId/thresholds/preview/:jobId', async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const job = previews.get(siteId, previewJobId(request.params));
    if (!job) throw new HttpError(404, 'no such preview (a newer draft replaces it, and results are kept 15 minutes)', 'not_found');
    return reply.header('Cache-Control', 'no-store').send({ job });
  });
  api.delete('/api/sites/:siteId/thresholds/preview/:jobId', async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    if (!previews.cancel(siteId, previewJobId(request.params))) throw new HttpError(404, 'no such preview', 'not_found');
    return reply.code(204).send();
  });

  api.get('/api/sites/:siteId/thresholds', read, async (request) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    return { rules: await ctx.thresholds.listRules(siteId), stats: ctx.thresholds.stats() };
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
    return { events: await ctx.thresholds.listEvents(siteId), stats: ctx.thresholds.stats() };
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

/** A draft is one threshold rule: a few hundred bytes, whatever the edge policy allows other routes. */
const PREVIEW_BODY_LIMIT = 16 * 1024;
const previewRanges = Object.keys(PREVIEW_RANGES) as [PreviewRange, ...PreviewRange[]];

/** The draft as the API takes it (`rule`, as POST /thresholds) or as the Thresholds form posts it (`form`). */
const previewBody = z.object({
  rule: z.unknown().optional(),
  form: z.record(z.string().max(40), z.string().max(2048)).refine((f) => Object.keys(f).length <= 20, 'too many fields').optional(),
  range: z.enum(previewRanges).default('24h'),
}).strict().refine((b) => (b.rule === undefined) !== (b.form === undefined), 'give either "rule" or "form"');

const previewJobParams = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/) });

function previewJobId(params: unknown): string {
  const parsed = previewJobParams.safeParse(params);
  if (!parsed.success) throw new HttpError(404, 'no such preview', 'not_found');
  return parsed.data.jobId;
}

/** The hub's threshold previews, with the ban service's allow list and caps; ended with the server. */
function thresholdPreviews(api: FastifyInstance, ctx: HubContext): ThresholdPreviews {
  const bans = ctx.thresholds;
  const previews = new ThresholdPreviews({
    store: ctx.store, now: ctx.now, allowRanges: (siteId) => bans.allowRanges(siteId),
    maxActiveBans: bans.options.maxActiveBansPerSite, maxCounterKeys: bans.options.maxCounterKeys,
  });
  api.addHook('onClose', async () => previews.close());
  return previews;
}
