import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RulePreviews, PREVIEW_RANGES, type PreviewRange } from '../../rules/rule-preview.js';
import { ruleInputSchema } from '../../rules/rule-input.js';
import type { HubContext } from '../../server/context.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import { ruleInputFromForm } from './form-rule.js';

/** A draft is one rule: a few kilobytes at most, whatever the edge policy allows other routes. */
const PREVIEW_BODY_LIMIT = 16 * 1024;
const ranges = Object.keys(PREVIEW_RANGES) as [PreviewRange, ...PreviewRange[]];

/**
 * The draft as the JSON API takes it (`rule`, a rule input as POST /rules takes it) or as the rules
 * page's form posts it (`form`, its flat fields), and the range to replay.
 */
const previewBody = z.object({
  rule: z.unknown().optional(),
  form: z.record(z.string().max(40), z.string().max(1024)).refine((f) => Object.keys(f).length <= 20, 'too many fields').optional(),
  range: z.enum(ranges).default('24h'),
}).strict().refine((b) => (b.rule === undefined) !== (b.form === undefined), 'give either "rule" or "form"');

const jobParams = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/) });

/**
 * POST /api/sites/:siteId/rules/preview starts a backtest of a draft rule (see rules/rule-preview.ts);
 * GET …/preview/:jobId answers its progress and result; DELETE cancels it. Registered inside the API's
 * session guard, so the access policy applies (admins only, like every rule change).
 */
export async function rulePreviewRoutes(api: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  const previews = new RulePreviews({ store: ctx.store, dataFilesDir: ctx.config.dataFilesDir, now: ctx.now });
  api.addHook('onClose', async () => previews.close());

  api.post('/api/sites/:siteId/rules/preview', { bodyLimit: PREVIEW_BODY_LIMIT }, async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const body = previewBody.parse(request.body);
    const input = body.form ? ruleInputFromForm(body.form) : ruleInputSchema.parse(body.rule);
    const job = await previews.start(siteId, ctx.rules.preview(input), body.range);
    return reply.code(202).header('Cache-Control', 'no-store').send({ job });
  });
  api.get('/api/sites/:siteId/rules/preview/:jobId', async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const job = previews.get(siteId, jobIdOf(request.params));
    if (!job) throw new HttpError(404, 'no such preview (a newer draft replaces it, and results are kept 15 minutes)', 'not_found');
    return reply.header('Cache-Control', 'no-store').send({ job });
  });
  api.delete('/api/sites/:siteId/rules/preview/:jobId', async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    if (!previews.cancel(siteId, jobIdOf(request.params))) throw new HttpError(404, 'no such preview', 'not_found');
    return reply.code(204).send();
  });
}

function jobIdOf(params: unknown): string {
  const parsed = jobParams.safeParse(params);
  if (!parsed.success) throw new HttpError(404, 'no such preview', 'not_found');
  return parsed.data.jobId;
}
