import type { FastifyInstance } from 'fastify';
import { RulePreviews } from '../../rules/rule-preview.js';
import { ruleInputSchema } from '../../rules/rule-input.js';
import type { HubContext } from '../../server/context.js';
import type { SiteService } from '../../sites/site-service.js';
import { ruleInputFromForm } from './form-rule.js';
import { previewJobRoutes } from './preview-job-routes.js';

/**
 * POST /api/sites/:siteId/rules/preview starts a backtest of a draft rule (see rules/rule-preview.ts);
 * GET …/preview/:jobId answers its progress and result; DELETE cancels it (see preview-job-routes.ts).
 * The draft is a rule input as POST /rules takes it, or the rules page form's flat fields.
 */
export async function rulePreviewRoutes(api: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  previewJobRoutes(api, sites, {
    path: 'rules',
    previews: new RulePreviews({ store: ctx.store, dataFilesDir: ctx.config.dataFilesDir, now: ctx.now }),
    draftOf: (body) => ctx.rules.preview(body.form ? ruleInputFromForm(body.form) : ruleInputSchema.parse(body.rule)),
    formValueMax: 1024,
  });
}
