import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { sessionGuard } from '../../auth/guards.js';
import { hubBotCatalogue, saveSiteBotSettings, siteBotSettings, withBotMode } from '../../rules/bot-settings.js';
import type { HubContext } from '../../server/context.js';
import { siteIdOf } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';

/** The Rules page's one-click bot forms (admins): one key, one mode, audited, compiled into the site's file. */
export async function botsRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    ui.post('/sites/:siteId/bots', async (request, reply) => {
      const siteId = siteIdOf(request);
      await sites.requireSite(siteId);
      const form = (request.body ?? {}) as Record<string, string | undefined>;
      const catalogue = await hubBotCatalogue(ctx.store);
      const settings = withBotMode(await siteBotSettings(ctx.store, siteId, catalogue), form.key, form.mode, catalogue);
      await saveSiteBotSettings({ store: ctx.store, builder: ctx.builder, audit: ctx.audit, now: ctx.now }, siteId, settings, actorOf(request));
      return reply.redirect(`/sites/${siteId}/rules?done=bots-saved#bot-settings`, 303);
    });
  });
}
