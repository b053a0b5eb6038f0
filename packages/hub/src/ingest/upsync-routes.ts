import type { FastifyInstance, FastifyRequest } from 'fastify';
import { siteForApiKey } from '../auth/api-key-auth.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { batchIdOf, BATCH_ID_HEADER } from './batch-id.js';
import { toReport } from './to-report.js';
import { COMPACT_UPSYNC_TYPE, compactUpsyncLimits, compactUpsyncShapeLimits, expandCompactUpsync } from './compact-upsync.js';
import { readUpsyncBody, readUpsyncText, upsyncShapeLimits } from './upsync-body.js';
import { upsyncBatchSorter } from './upsync-batch.js';

/**
 * `POST /v2/upsync/{apiKey}`: a batch of request reports, JSON, optionally gzip-compressed: the Wafris
 * form (`application/json`) or the compact Moat form (COMPACT_UPSYNC_TYPE), expanded into the Wafris
 * form's records as it is parsed, so both take the same path from there on. The key is
 * checked before the body is read; the body's size (also inflated) and shape are bounded before it is
 * parsed. Each record is judged alone: the valid ones are stored in one transaction before the 200, the
 * others are counted and listed in the answer `{ok, accepted, rejected, clamped, errors:[{index, reason}]}`.
 * A batch with an id (`X-Moat-Batch-Id` or `meta.batch_id`) is stored once: a retry of a stored batch
 * answers 200 with `duplicate: true` and `accepted: 0`, the rest of the answer as the first time.
 */
export async function upsyncRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const sortBatch = upsyncBatchSorter(ctx.config.upsyncMaxRecords);
  const maxBytes = ctx.config.upsyncMaxBytes;
  const limits = upsyncShapeLimits(ctx.config.upsyncMaxRecords);
  const oldestKeptBefore = Math.max(ctx.config.retention.rawSeconds, ctx.config.retention.rollupSeconds);

  // This plugin's own JSON parser: it reads the raw bytes, so it can inflate gzip with a size cap.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxBytes }, (request, body, done) => {
    readUpsyncBody(body as Buffer, request.headers['content-encoding'], maxBytes, limits)
      .then((value) => done(null, value), (error: unknown) => done(error as Error));
  });
  // The compact Moat form: the same byte caps and gzip handling, then expanded into the Wafris form's
  // `{meta, batch}`, so the route below cannot tell the two apart.
  const compactLimits = compactUpsyncLimits(ctx.config.upsyncMaxRecords);
  const compactShape = compactUpsyncShapeLimits(compactLimits);
  app.addContentTypeParser(COMPACT_UPSYNC_TYPE, { parseAs: 'buffer', bodyLimit: maxBytes }, (request, body, done) => {
    readUpsyncText(body as Buffer, request.headers['content-encoding'], maxBytes, compactShape)
      .then((text) => expandCompactUpsync(JSON.parse(text), compactLimits))
      .then((value) => done(null, value), (error: unknown) => done(error as Error));
  });

  // The key is checked before the body is read, so bad keys cost no reading or parsing.
  const keys = new WeakMap<object, { siteId: number; keyId: number }>();
  const onRequest = async (request: FastifyRequest) => {
    keys.set(request, await siteForApiKey(ctx.store, (request.params as { apiKey?: unknown }).apiKey));
  };

  app.post('/v2/upsync/:apiKey', { bodyLimit: maxBytes, onRequest }, async (request, reply) => {
    const key = keys.get(request);
    if (!key) throw new HttpError(401, 'invalid API key', 'invalid_api_key');
    const { siteId, keyId } = key;
    const contentType = request.headers['content-type']?.toLowerCase();
    if (!contentType?.startsWith('application/json') && !contentType?.startsWith(COMPACT_UPSYNC_TYPE)) {
      throw new HttpError(415, `send the batch as Content-Type: application/json or ${COMPACT_UPSYNC_TYPE}`, 'unsupported_media_type');
    }
    const now = Math.floor(ctx.now() / 1000);
    const batchId = batchIdOf(request.headers[BATCH_ID_HEADER], request.body);
    const batch = sortBatch(request.body, { receivedAt: now, oldestKept: now - oldestKeptBefore });
    const records = batch.accepted.map((r) => toReport(r, ctx.countryOf));
    const outcome = records.length === 0 ? 'stored'
      : await ctx.store.insertReports(siteId, records, batchId === null ? undefined : { id: batchId, receivedAt: now });
    const accepted = outcome === 'duplicate' ? 0 : records.length;
    await ctx.store.touchApiKey(keyId, now);
    await ctx.store.recordReporter({
      siteId, client: batch.meta.client, version: batch.meta.version, framework: batch.meta.framework,
      lastSeen: now, records: accepted,
    });
    if (outcome === 'duplicate') request.log.info({ siteId, batchId, records: records.length }, 'upsync batch already stored; nothing stored again');
    if (batch.rejectedCount > 0 || batch.clamped > 0) {
      request.log.info({ siteId, accepted, rejected: batch.rejectedCount, clamped: batch.clamped }, 'upsync records refused or re-dated');
    }
    return reply.code(200).send({
      ok: true, ...(outcome === 'duplicate' ? { duplicate: true } : {}),
      accepted, rejected: batch.rejectedCount, clamped: batch.clamped, errors: batch.rejected,
    });
  });
}
