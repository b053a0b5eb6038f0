/**
 * The feeds' JSON API, under /api/feeds: admins only (no route here is opened in the access policy),
 * a session cookie and `x-csrf-token` on changes, like the rest of /api. A file is uploaded as the
 * text/plain body of `PUT /api/feeds/:feedId/file`, written to disk as it arrives and bounded by
 * `feeds.maxBytes` (a declared length over it is refused before it is read).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../audit/actor.js';
import { sessionGuard } from '../auth/guards.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { intParam } from '../server/params.js';
import type { FeedSource } from '../store/feed-records.js';
import { botCatalogueApiRoutes } from './bot-catalogue-routes.js';
import { feedFields, feedInputSchema } from './feed-input.js';

const waitQuery = z.object({ wait: z.enum(['0', '1']).optional() });
const versionsQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) });

/** `?wait=1`: answer after the fetch and build this change started (a fetch is bounded by its timeout). */
const waits = (request: FastifyRequest) => waitQuery.parse(request.query).wait === '1';

/** A source as the API shows it, with its age (seconds since the copy in use was accepted). */
export function describeSource(source: FeedSource, nowSeconds: number): FeedSource & { ageSeconds: number | null } {
  return { ...source, ageSeconds: source.changedAt === null ? null : Math.max(0, nowSeconds - source.changedAt) };
}

export async function feedApiRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const feeds = ctx.feeds;
  const nowSeconds = () => Math.floor(ctx.now() / 1000);
  const allowPrivate = ctx.config.feeds.allowPrivate;
  const found = async (id: number) => {
    const source = await ctx.store.feeds.getSource(id);
    if (!source) throw new HttpError(404, 'no such feed source', 'not_found');
    return source;
  };

  app.addHook('preHandler', sessionGuard(ctx, 'api'));
  // An upload's body as the stream it is, in this plugin's scope only: the route writes it to disk as it
  // arrives (upload-stream.ts). Buffered, a 54 MB body cost one 150–190 ms copy on the event loop, and
  // as a string (decoded, measured, re-encoded) ~0.9 s. Fastify bounds only the bodies it reads itself,
  // so the route bounds this one.
  app.addContentTypeParser('text/plain', (_request, payload, done) => done(null, payload));

  app.get('/api/feeds', async (_request, reply) => {
    const { sources, versions } = await feeds.overview();
    return reply.header('Cache-Control', 'no-store').send({
      sources: sources.map((s) => describeSource(s, nowSeconds())), versions, counters: feeds.counters,
    });
  });

  app.post('/api/feeds', async (request, reply) => {
    const input = feedInputSchema.parse(request.body);
    const fields = feedFields(input, allowPrivate);
    const created = await feeds.create(fields, input.content);
    if (!created) throw new HttpError(409, 'a feed source with this name exists', 'name_taken');
    await ctx.audit.record(actorOf(request), 'feed.create', { target: fields.name, after: { ...fields } });
    if (waits(request)) await created.cycle;
    return reply.code(201).send({ source: describeSource((await ctx.store.feeds.getSource(created.source.id)) ?? created.source, nowSeconds()) });
  });

  app.get('/api/feeds/:feedId', async (request) => ({ source: describeSource(await found(intParam(request, 'feedId')), nowSeconds()) }));

  app.patch('/api/feeds/:feedId', async (request) => {
    const id = intParam(request, 'feedId');
    const before = await found(id);
    const input = feedInputSchema.parse(request.body);
    const fields = feedFields(input, allowPrivate);
    const outcome = await feeds.update(id, fields, input.content);
    if (outcome === 'not_found') throw new HttpError(404, 'no such feed source', 'not_found');
    if (outcome === 'name_taken') throw new HttpError(409, 'a feed source with this name exists', 'name_taken');
    await ctx.audit.record(actorOf(request), 'feed.update', { target: fields.name, before: fieldsOf(before), after: { ...fields } });
    if (waits(request)) await feeds.idle();
    return { source: describeSource(await found(id), nowSeconds()) };
  });

  app.delete('/api/feeds/:feedId', async (request, reply) => {
    const id = intParam(request, 'feedId');
    const before = await found(id);
    if (!(await feeds.remove(id))) throw new HttpError(404, 'no such feed source', 'not_found');
    await ctx.audit.record(actorOf(request), 'feed.delete', { target: before.name, before: fieldsOf(before) });
    if (waits(request)) await feeds.idle();
    return reply.code(204).send();
  });

  const maxBytes = ctx.config.feeds.maxBytes;
  app.put('/api/feeds/:feedId/file', {
    bodyLimit: maxBytes,
    // A declared length over the cap is refused before a byte is read (a chunked body, as it passes it).
    onRequest: async (request) => {
      if (Number(request.headers['content-length'] ?? 0) > maxBytes) throw new HttpError(413, `the file is over the ${maxBytes}-byte limit (feeds.maxBytes)`, 'too_large');
    },
  }, async (request) => {
    const id = intParam(request, 'feedId');
    const source = await found(id);
    if (source.origin !== 'upload') throw new HttpError(400, 'only an upload source takes a file', 'invalid_feed');
    if (!(request.body instanceof Readable)) throw new HttpError(415, 'send the file as text/plain', 'unsupported_media_type');
    const received = await feeds.receive(id, request.body, maxBytes);
    const done = feeds.upload(id, received, source.format);
    await ctx.audit.record(actorOf(request), 'feed.upload', { target: source.name, after: { bytes: received.bytes } });
    if (waits(request)) await done;
    return { source: describeSource(await found(id), nowSeconds()) };
  });

  app.post('/api/feeds/:feedId/refresh', async (request, reply) => {
    const id = intParam(request, 'feedId');
    await found(id);
    const done = feeds.refresh(id);
    if (!waits(request)) return reply.code(202).send({ queued: true });
    await done;
    return { source: describeSource(await found(id), nowSeconds()) };
  });

  app.get('/api/feeds/versions', async (request) => ({ versions: await ctx.store.feeds.listVersions(versionsQuery.parse(request.query).limit) }));

  await botCatalogueApiRoutes(app, ctx);
}

function fieldsOf(s: FeedSource) {
  return { name: s.name, format: s.format, origin: s.origin, url: s.url, list: s.list, refreshSeconds: s.refreshSeconds };
}
