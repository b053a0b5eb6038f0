import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { visibleSites } from '../../auth/access-policy.js';
import { sessionGuard } from '../../auth/guards.js';
import type { HubContext } from '../../server/context.js';
import { describeError } from '../../server/error-handler.js';
import { intParam, siteIdOf } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import { thresholdInputFromForm } from '../../thresholds/threshold-input.js';
import { previewWorkers } from '../../rules/preview-pool.js';
import { thresholdFormValues, thresholdsPage, type ThresholdFormState } from '../pages/thresholds-page.js';

type Form = Record<string, string>;

/** Fixed notices chosen by code, so a crafted link cannot put arbitrary text on the page. */
const NOTICES: Record<string, string> = {
  'threshold-created': 'Threshold rule added; it counts reports from now on.',
  'threshold-updated': 'Threshold rule saved; its counts start again.',
  'threshold-deleted': 'Threshold rule deleted; its bans stay until they expire or are lifted.',
  'ban-lifted': 'Ban lifted; clients get rules without it on their next download.',
};

/** The Thresholds page and its forms (session + CSRF via the guard; changes are for admins). */
export async function thresholdsRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));

    const render = async (request: FastifyRequest, reply: FastifyReply, extra: { form?: ThresholdFormState; status?: number } = {}) => {
      const session = request.hubSession!;
      const site = await sites.requireSite(siteIdOf(request));
      const [rules, bans, wouldBans, events, all] = await Promise.all([
        ctx.thresholds.listRules(site.id),
        ctx.thresholds.listBans(site.id, 'enforce', true),
        ctx.thresholds.listBans(site.id, 'monitor', true),
        ctx.thresholds.listEvents(site.id, 50),
        visibleSites(ctx.store, session),
      ]);
      let form = extra.form;
      const editId = Number((request.query as { edit?: string }).edit);
      if (!form && Number.isInteger(editId)) {
        const editing = rules.find((r) => r.id === editId);
        if (editing) form = { ruleId: editing.id, values: thresholdFormValues(editing) };
      }
      const done = (request.query as { done?: string }).done;
      // An admin may preview a draft from this page: the preview workers start now, not on the first preview.
      if (session.role === 'admin') previewWorkers.warm();
      return reply.code(extra.status ?? 200).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(thresholdsPage({
        user: { email: session.email, csrfToken: session.csrfToken, role: session.role }, site, sites: all,
        rules, bans, wouldBans, events, form, notice: done ? NOTICES[done] : undefined,
        // The site's own figures; the hub-wide ones (every site's activity, fleet sharing) for admins only.
        stats: ctx.thresholds.siteStats(site.id), hubStats: session.role === 'admin' ? ctx.thresholds.stats() : undefined,
      }));
    };
    /** A refused form comes back with what was typed and the reason (4xx); anything else is the error handler's. */
    const refused = async (request: FastifyRequest, reply: FastifyReply, error: unknown, ruleId?: number) => {
      const { status, body } = describeError(error);
      if (status >= 500) throw error;
      const detail = body.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
      const values = { ...((request.body ?? {}) as Form) };
      delete values._csrf;
      return render(request, reply, { form: { ruleId, values, error: detail ? `${body.message} (${detail})` : body.message }, status });
    };
    const back = (reply: FastifyReply, siteId: number, done: string) => reply.redirect(`/sites/${siteId}/thresholds?done=${done}`, 303);

    ui.get('/sites/:siteId/thresholds', { config: { access: 'signed-in' } }, async (request, reply) => render(request, reply));

    ui.post('/sites/:siteId/thresholds', async (request, reply) => {
      const siteId = siteIdOf(request);
      try {
        await sites.requireSite(siteId);
        await ctx.thresholds.createRule(siteId, thresholdInputFromForm((request.body ?? {}) as Form), actorOf(request));
      } catch (error) {
        return refused(request, reply, error);
      }
      return back(reply, siteId, 'threshold-created');
    });
    ui.post('/sites/:siteId/thresholds/:ruleId', async (request, reply) => {
      const siteId = siteIdOf(request);
      const ruleId = intParam(request, 'ruleId');
      try {
        await ctx.thresholds.updateRule(siteId, ruleId, thresholdInputFromForm((request.body ?? {}) as Form), actorOf(request));
      } catch (error) {
        return refused(request, reply, error, ruleId);
      }
      return back(reply, siteId, 'threshold-updated');
    });
    ui.post('/sites/:siteId/thresholds/:ruleId/delete', async (request, reply) => {
      const siteId = siteIdOf(request);
      await ctx.thresholds.deleteRule(siteId, intParam(request, 'ruleId'), actorOf(request));
      return back(reply, siteId, 'threshold-deleted');
    });
    ui.post('/sites/:siteId/bans/:banId/lift', async (request, reply) => {
      const siteId = siteIdOf(request);
      await ctx.thresholds.liftBan(siteId, intParam(request, 'banId'), actorOf(request));
      return back(reply, siteId, 'ban-lifted');
    });
  });
}
