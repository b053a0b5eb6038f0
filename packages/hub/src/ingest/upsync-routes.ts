import type { FastifyInstance, FastifyRequest } from 'fastify';
import { siteForApiKey } from '../auth/api-key-auth.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { batchIdOf, BATCH_ID_HEADER } from './batch-id.js';
import { toReport } from './to-report.js';
import {
  COMPACT_UPSYNC_TYPE, COMPACT_UPSYNC_TYPE_V2, compactUpsyncLimits, compactUpsyncShapeLimits, expandCompactUpsync, type ExpandedUpsync,
} from './compact-upsync.js';
import { sortPassedCounts } from './passed-counts.js';
import { readUpsyncBody, readUpsyncText, upsyncShapeLimits } from './upsync-body.js';
import { upsyncBatchSorterInSlices } from './upsync-batch.js';

/**
 * `POST /v2/upsync/{apiKey}`: a batch of request reports, JSON, optionally gzip-compressed: the Wafris
 * form (`application/json`) or the compact Moat form (COMPACT_UPSYNC_TYPE), expanded into the Wafris
 * form's records as it is parsed, so both take the same path from there on. The key is
 * checked before the body is read; the body's size (also inflated) and shape are bounded before it is
 * parsed. Each record is judged alone, a slice of records per event-loop turn: the valid ones are stored
 * before the 200, the others are counted and listed in the answer
 * `{ok, accepted, rejected, clamped, errors:[{index, reason}]}`.
 * A batch with an id (`X-Moat-Batch-Id` or `meta.batch_id`) is stored once: a retry of a stored batch
 * answers 200 with `duplicate: true` and `accepted: 0`, the rest of the answer as the first time.
 */
export async function upsyncRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const sortBatch = upsyncBatchSorterInSlices(ctx.config.upsyncMaxRecords);
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
  const compactLimits = compactUpsyncLimits(ctx.config.upsyncMaxRecords, maxBytes);
  const compactShape = compactUpsyncShapeLimits(compactLimits);
  for (const [type, version] of [[COMPACT_UPSYNC_TYPE, 1], [COMPACT_UPSYNC_TYPE_V2, 2]] as const) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: maxBytes }, (request, body, done) => {
      readUpsyncText(body as Buffer, request.headers['content-encoding'], maxBytes, compactShape)
        .then((text) => expandCompactUpsync(JSON.parse(text), compactLimits, version))
        .then((value) => done(null, value), (error: unknown) => done(error as Error));
    });
  }

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
    const compactV2 = contentType?.startsWith(COMPACT_UPSYNC_TYPE_V2) === true;
    if (!contentType?.startsWith('application/json') && !contentType?.startsWith(COMPACT_UPSYNC_TYPE) && !compactV2) {
      throw new HttpError(415, `send the batch as Content-Type: application/json, ${COMPACT_UPSYNC_TYPE} or ${COMPACT_UPSYNC_TYPE_V2}`, 'unsupported_media_type');
    }
    const now = Math.floor(ctx.now() / 1000);
    const times = { receivedAt: now, oldestKept: now - oldestKeptBefore };
    const batchId = batchIdOf(request.headers[BATCH_ID_HEADER], request.body);
    const batch = await sortBatch(request.body, times);
    const records = batch.accepted.map((r) => toReport(r, ctx.countryOf));
    // Counts of Passed requests (compact v2 only): stored with the records, in the same transaction and
    // under the same batch id, so a retried batch adds them once.
    const counts = compactV2
      ? sortPassedCounts((request.body as ExpandedUpsync).aggregates, times, ctx.countryOf, (request.body as ExpandedUpsync).batch.length)
      : null;
    const rows = counts === null || counts.accepted.length === 0 ? records : [...records, ...counts.accepted];
    const outcome = rows.length === 0 ? 'stored'
      : await ctx.store.insertReports(siteId, rows, batchId === null ? undefined : { id: batchId, receivedAt: now });
    const accepted = outcome === 'duplicate' ? 0 : records.length;
    // Auto-ban counts what was stored (records and counts), once: a duplicate batch was counted the first time.
    if (outcome !== 'duplicate') ctx.thresholds.observe(siteId, rows);
    if (counts !== null) {
      // Refused counts are reported in requests, as the client counts its losses.
      batch.rejectedCount += counts.rejectedRequests;
      batch.rejected.push(...counts.rejected.slice(0, Math.max(0, 20 - batch.rejected.length)));
      batch.clamped += counts.clamped;
    }
    const countedRequests = outcome === 'duplicate' || counts === null ? 0 : counts.accepted.reduce((sum, r) => sum + (r.aggregateCount ?? 0), 0);
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
      accepted, ...(counts === null ? {} : { counted: countedRequests }), rejected: batch.rejectedCount, clamped: batch.clamped, errors: batch.rejected,
    });
  });
}
