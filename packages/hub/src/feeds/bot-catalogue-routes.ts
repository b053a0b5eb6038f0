/**
 * The bot catalogue's JSON API, under /api/bot-catalogue, registered in the feeds' scope (admins only,
 * session and CSRF like the rest of /api): what is in force and what is held, and an admin's three
 * decisions — confirm or dismiss a held catalogue, go back to the shipped one.
 */
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../audit/actor.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { intParam } from '../server/params.js';
import { KEPT_CATALOGUES } from './bot-catalogue-service.js';

export async function botCatalogueApiRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const bots = ctx.feeds.bots;

  app.get('/api/bot-catalogue', async (_request, reply) => {
    const force = await bots.inForce();
    const held = await ctx.store.botCatalogues.held();
    return reply.header('Cache-Control', 'no-store').send({
      inForce: {
        hash: force.hash, bots: force.catalogue.bots.length, edition: force.catalogue.updated, source: force.entry?.source ?? 'shipped',
        version: force.entry?.version ?? null, problem: force.problem,
      },
      held: held === undefined ? null : { ...held, content: undefined },
      history: await ctx.store.botCatalogues.list(KEPT_CATALOGUES),
      counters: bots.counters,
    });
  });

  app.post('/api/bot-catalogue/held/:version/confirm', async (request) => {
    if ((await bots.confirm(intParam(request, 'version'), actorOf(request))) !== 'done') throw new HttpError(409, 'no catalogue is held under this version', 'not_held');
    return { confirmed: true };
  });

  app.post('/api/bot-catalogue/held/:version/dismiss', async (request) => {
    if ((await bots.dismiss(intParam(request, 'version'), actorOf(request))) !== 'done') throw new HttpError(409, 'no catalogue is held under this version', 'not_held');
    return { dismissed: true };
  });

  app.post('/api/bot-catalogue/revert', async (request) => ({ reverted: (await bots.revert(actorOf(request))) === 'done' }));
}
