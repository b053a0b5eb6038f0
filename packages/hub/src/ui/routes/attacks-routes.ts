import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { visibleSites } from '../../auth/access-policy.js';
import { sessionGuard } from '../../auth/guards.js';
import { loadAttackActivity } from '../../rules/attack-activity.js';
import { attackSettingsFromForm, saveSiteAttackSettings, siteAttackSettings } from '../../rules/attack-settings.js';
import type { HubContext } from '../../server/context.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import { RANGES, parseRange } from '../../stats/time-range.js';
import { attacksPage } from '../pages/attacks-panel.js';

const NOTICES: Record<string, string> = { saved: 'Attack settings saved; clients get them on their next download.' };

/** The Attacks page (viewers may read it) and the settings form post (admins). */
export async function attacksRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    const render = async (request: FastifyRequest, reply: FastifyReply, extra: { error?: string } = {}, status = 200) => {
      const site = await sites.requireSite(siteIdOf(request));
      const q = request.query as { range?: string; done?: string };
      const range = parseRange(q.range);
      const now = Math.floor(ctx.now() / 1000);
      const [all, activity, settings] = await Promise.all([
        visibleSites(ctx.store, request.hubSession!),
        loadAttackActivity(ctx.store, site.id, now - RANGES[range].seconds, now + 1),
        siteAttackSettings(ctx.store, site.id),
      ]);
      const session = request.hubSession!;
      return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(attacksPage({
        user: { email: session.email, csrfToken: session.csrfToken, role: session.role }, site, sites: all, range, activity, settings,
        notice: q.done ? NOTICES[q.done] : undefined, ...extra,
      }));
    };
    ui.get('/sites/:siteId/attacks', { config: { access: 'signed-in' } }, async (request, reply) => render(request, reply));
    ui.post('/sites/:siteId/attacks', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const form = (request.body ?? {}) as Record<string, string | undefined>;
      let settings;
      try {
        settings = attackSettingsFromForm(form);
      } catch (error) {
        if (error instanceof HttpError && error.statusCode === 400) return render(request, reply, { error: error.message }, 400);
        throw error;
      }
      await saveSiteAttackSettings({ store: ctx.store, builder: ctx.builder, audit: ctx.audit, now: ctx.now }, siteId, settings, actorOf(request));
      // Back to the Rules page when saved there; only this site's own pages are accepted.
      const back = form.back === `/sites/${siteId}/rules` ? form.back : `/sites/${siteId}/attacks`;
      return reply.redirect(`${back}?done=${back.endsWith('/rules') ? 'attacks-saved' : 'saved'}`, 303);
    });
  });
}
