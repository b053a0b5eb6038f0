import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { sessionGuard } from '../../auth/guards.js';
import { feedFields, feedInputSchema } from '../../feeds/feed-input.js';
import type { HubContext } from '../../server/context.js';
import { describeError } from '../../server/error-handler.js';
import { HttpError } from '../../server/http-error.js';
import { intParam } from '../../server/params.js';
import { KEPT_CATALOGUES } from '../../feeds/bot-catalogue-service.js';
import { botCatalogueSection } from '../pages/data-bot-catalogue.js';
import { dataPage } from '../pages/data-page.js';

type Form = Record<string, string>;

const NOTICES: Record<string, string> = {
  added: 'Source added; it is being fetched and checked now.',
  saved: 'Source saved.',
  removed: 'Source removed; the next data file leaves its ranges out.',
  refreshing: 'Refreshing: reload in a moment to see the result.',
  uploaded: 'File received; it is being checked and built now.',
  'catalogue-confirmed': 'The held bot catalogue is in force; every site is compiled with it.',
  'catalogue-dismissed': 'The held bot catalogue is dismissed; the catalogue in force stays.',
  'catalogue-reverted': 'Every site is compiled with the shipped bot catalogue again.',
  'catalogue-unchanged': 'The shipped bot catalogue is already in force.',
};

/** The form's largest upload: form bodies are parsed whole, so they stay well below the API's text upload. */
const FORM_UPLOAD_MAX = 8 * 1024 * 1024;

/** The form's fields as the API's input (empty fields left out, so defaults apply). */
function inputOf(form: Form) {
  const pick = (k: string) => (typeof form[k] === 'string' && form[k] !== '' ? form[k] : undefined);
  return feedInputSchema.parse({
    name: pick('name'), format: pick('format'), origin: pick('origin'), url: pick('url'), list: pick('list'),
    refreshMinutes: pick('refreshMinutes'), content: pick('content'),
  });
}

/** The Data page and its forms. Admins only (none of these routes is opened in the access policy). */
export async function dataRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const uploadMax = Math.min(FORM_UPLOAD_MAX, ctx.config.feeds.maxBytes);
  const allowPrivate = ctx.config.feeds.allowPrivate;
  app.addHook('preHandler', sessionGuard(ctx, 'html'));

  const render = async (request: FastifyRequest, reply: FastifyReply, error?: string, status = 200) => {
    const done = (request.query as { done?: string }).done;
    const s = request.hubSession!;
    const { sources, versions } = await ctx.feeds.overview();
    const botCatalogue = botCatalogueSection({
      csrf: s.csrfToken, inForce: await ctx.feeds.bots.inForce(), held: await ctx.store.botCatalogues.held(),
      history: await ctx.store.botCatalogues.list(KEPT_CATALOGUES), source: sources.find((f) => f.format === 'bots'),
    });
    return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(dataPage({
      user: { email: s.email, csrfToken: s.csrfToken, role: s.role }, sites: await ctx.store.listSites(), sources, versions,
      nowSeconds: Math.floor(ctx.now() / 1000), uploadMaxBytes: uploadMax, botCatalogue, notice: done ? NOTICES[done] : undefined, error,
    }));
  };
  /** Renders the page with the error of a refused change (4xx); anything else is the error handler's. */
  const refused = async (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    const { status, body } = describeError(error);
    if (status >= 500) throw error;
    const detail = body.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
    return render(request, reply, detail ? `${body.message} (${detail})` : body.message, status);
  };

  app.get('/data', async (request, reply) => render(request, reply));

  app.post('/data/feeds', { bodyLimit: uploadMax + 64 * 1024 }, async (request, reply) => {
    try {
      const input = inputOf((request.body ?? {}) as Form);
      const fields = feedFields(input, allowPrivate);
      const created = await ctx.feeds.create(fields, input.content);
      if (!created) throw new HttpError(409, 'a feed source with this name exists', 'name_taken');
      await ctx.audit.record(actorOf(request), 'feed.create', { target: fields.name, after: { ...fields } });
    } catch (error) {
      return refused(request, reply, error);
    }
    return reply.redirect('/data?done=added', 303);
  });

  app.post('/data/feeds/:feedId', async (request, reply) => {
    try {
      const id = intParam(request, 'feedId');
      const input = inputOf((request.body ?? {}) as Form);
      const fields = feedFields(input, allowPrivate);
      const outcome = await ctx.feeds.update(id, fields);
      if (outcome === 'not_found') throw new HttpError(404, 'no such feed source', 'not_found');
      if (outcome === 'name_taken') throw new HttpError(409, 'a feed source with this name exists', 'name_taken');
      await ctx.audit.record(actorOf(request), 'feed.update', { target: fields.name, after: { ...fields } });
    } catch (error) {
      return refused(request, reply, error);
    }
    return reply.redirect('/data?done=saved', 303);
  });

  app.post('/data/feeds/:feedId/file', { bodyLimit: uploadMax + 64 * 1024 }, async (request, reply) => {
    try {
      const id = intParam(request, 'feedId');
      const source = await ctx.store.feeds.getSource(id);
      if (!source) throw new HttpError(404, 'no such feed source', 'not_found');
      if (source.origin !== 'upload') throw new HttpError(400, 'only an upload source takes a file', 'invalid_feed');
      const content = ((request.body ?? {}) as Form).content ?? '';
      if (Buffer.byteLength(content) > uploadMax) throw new HttpError(413, `the file is over ${uploadMax} bytes; use PUT /api/feeds/${id}/file`, 'too_large');
      void ctx.feeds.upload(id, content, source.format);
      await ctx.audit.record(actorOf(request), 'feed.upload', { target: source.name, after: { bytes: Buffer.byteLength(content) } });
    } catch (error) {
      return refused(request, reply, error);
    }
    return reply.redirect('/data?done=uploaded', 303);
  });

  app.post('/data/feeds/:feedId/refresh', async (request, reply) => {
    void ctx.feeds.refresh(intParam(request, 'feedId'));
    return reply.redirect('/data?done=refreshing', 303);
  });

  app.post('/data/feeds/:feedId/remove', async (request, reply) => {
    try {
      const id = intParam(request, 'feedId');
      const source = await ctx.store.feeds.getSource(id);
      if (!source || !(await ctx.feeds.remove(id))) throw new HttpError(404, 'no such feed source', 'not_found');
      await ctx.audit.record(actorOf(request), 'feed.delete', { target: source.name });
    } catch (error) {
      return refused(request, reply, error);
    }
    return reply.redirect('/data?done=removed', 303);
  });

  app.post('/data/bot-catalogue/held/:version/:decision', async (request, reply) => {
    try {
      const version = intParam(request, 'version');
      const decision = (request.params as { decision?: string }).decision;
      if (decision !== 'confirm' && decision !== 'dismiss') throw new HttpError(404, 'not found', 'not_found');
      const outcome = decision === 'confirm' ? await ctx.feeds.bots.confirm(version, actorOf(request)) : await ctx.feeds.bots.dismiss(version, actorOf(request));
      if (outcome !== 'done') throw new HttpError(409, 'no catalogue is held under this version (decided already?)', 'not_held');
      return reply.redirect(`/data?done=catalogue-${decision === 'confirm' ? 'confirmed' : 'dismissed'}#bot-catalogue`, 303);
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  app.post('/data/bot-catalogue/revert', async (request, reply) => {
    const outcome = await ctx.feeds.bots.revert(actorOf(request));
    return reply.redirect(`/data?done=catalogue-${outcome === 'done' ? 'reverted' : 'unchanged'}#bot-catalogue`, 303);
  });
}
