import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PREVIEW_RANGES, type PreviewRange } from '../../rules/preview-jobs.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';

/** A draft is one rule: a few kilobytes at most, whatever the edge policy allows other routes. */
const PREVIEW_BODY_LIMIT = 16 * 1024;
const ranges = Object.keys(PREVIEW_RANGES) as [PreviewRange, ...PreviewRange[]];
const jobParams = z.object({ jobId: z.string().regex(/^[0-9a-f]{24}$/) });

/** The preview jobs of one kind (rules/preview-jobs.ts), as the routes use them. */
interface Previews<Draft> {
  start(siteId: number, draft: Draft, range: PreviewRange): Promise<unknown>;
  get(siteId: number, jobId: string): unknown;
  cancel(siteId: number, jobId: string): boolean;
  close(): Promise<void>;
}

export interface PreviewRoutesOptions<Draft> {
  /** The rules the draft is one of: `rules` serves /api/sites/:siteId/rules/preview. */
  path: 'rules' | 'thresholds';
  previews: Previews<Draft>;
  /** The draft from the JSON API's `rule` or the page form's flat fields; throws (400) on a bad one. */
  draftOf(body: { rule?: unknown; form?: Record<string, string> }): Draft;
  /** Longest form field value (the threshold form's path and name are longer than a rule's value). */
  formValueMax: number;
}

/**
 * A backtest's routes: POST /api/sites/:siteId/<path>/preview starts one over a draft, GET …/:jobId answers
 * its progress and result, DELETE cancels it. Registered inside the API's session guard, so the access
 * policy applies (admins only, like every rule change); the draft is bounded (16 KB) and checked by its
 * rule schema before any scan starts. The jobs end with the server.
 */
export function previewJobRoutes<Draft>(api: FastifyInstance, sites: SiteService, options: PreviewRoutesOptions<Draft>): void {
  const { previews } = options;
  const url = `/api/sites/:siteId/${options.path}/preview`;
  // The draft as the JSON API takes it (`rule`) or as the page's form posts it (`form`), and the range.
  const previewBody = z.object({
    rule: z.unknown().optional(),
    form: z.record(z.string().max(40), z.string().max(options.formValueMax)).refine((f) => Object.keys(f).length <= 20, 'too many fields').optional(),
    range: z.enum(ranges).default('24h'),
  }).strict().refine((b) => (b.rule === undefined) !== (b.form === undefined), 'give either "rule" or "form"');
  api.addHook('onClose', async () => previews.close());

  api.post(url, { bodyLimit: PREVIEW_BODY_LIMIT }, async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const body = previewBody.parse(request.body);
    const job = await previews.start(siteId, options.draftOf(body), body.range);
    return reply.code(202).header('Cache-Control', 'no-store').send({ job });
  });
  api.get(`${url}/:jobId`, async (request, reply) => {
    const siteId = siteIdOf(request);
    await sites.requireSite(siteId);
    const job = previews.get(siteId, jobIdOf(request.params));
    if (!job) throw new HttpError(404, 'no such preview (a newer draft replaces it, and results are kept 15 minutes)', 'not_found');
    return reply.header('Cache-Control', 'no-store').send({ job });
  });
  api.delete(`${url}/:jobId`, async (request, reply) => {
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
