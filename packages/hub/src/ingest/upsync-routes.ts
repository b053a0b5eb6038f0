import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { siteForApiKey } from '../auth/api-key-auth.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { toReport } from './to-report.js';
import { upsyncBodyParser } from './fast-upsync-parse.js';

const gunzipAsync = promisify(gunzip);

/**
 * `POST /v2/upsync/{apiKey}`: a batch of request reports, JSON, optionally gzip-compressed. The batch
 * is validated whole and stored in one transaction: a bad batch is refused with a 4xx and stores
 * nothing; a good one is stored completely before the 200.
 */
export async function upsyncRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const parseBody = upsyncBodyParser(ctx.config.upsyncMaxRecords);
  const maxBytes = ctx.config.upsyncMaxBytes;

  // This plugin's own JSON parser: it reads the raw bytes, so it can inflate gzip with a size cap.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxBytes }, (request, body, done) => {
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    const decode = encoding === 'gzip' || encoding === 'x-gzip'
      ? gunzipAsync(body as Buffer, { maxOutputLength: maxBytes })
      : encoding === 'identity'
        ? Promise.resolve(body as Buffer)
        : Promise.reject(new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 40))}: use gzip or none`, 'unsupported_encoding'));
    decode.then((raw) => {
      if (raw.length === 0) throw new HttpError(400, 'the body is empty', 'malformed_body');
      done(null, JSON.parse(raw.toString('utf8')));
    }).catch((error: unknown) => done(error as Error));
  });

  // The key is checked before the body is read, so bad keys cost no parsing.
  const keys = new WeakMap<object, { siteId: number; keyId: number }>();
  const onRequest = async (request: FastifyRequest) => {
    keys.set(request, await siteForApiKey(ctx.store, (request.params as { apiKey?: unknown }).apiKey));
  };

  app.post('/v2/upsync/:apiKey', { bodyLimit: maxBytes, onRequest }, async (request, reply) => {
    const key = keys.get(request);
    if (!key) throw new HttpError(401, 'invalid API key', 'invalid_api_key');
    const { siteId, keyId } = key;
    if (!request.headers['content-type']?.toLowerCase().startsWith('application/json')) {
      throw new HttpError(415, 'send the batch as Content-Type: application/json', 'unsupported_media_type');
    }
    const body = parseBody(request.body);
    const records = body.batch.map((r) => toReport(r, ctx.countryOf));
    if (records.length > 0) await ctx.store.insertReports(siteId, records);
    const now = Math.floor(ctx.now() / 1000);
    await ctx.store.touchApiKey(keyId, now);
    await ctx.store.recordReporter({
      siteId, client: body.meta.client, version: body.meta.version, framework: body.meta.framework,
      lastSeen: now, records: records.length,
    });
    return reply.code(200).send({ ok: true, stored: records.length });
  });
}
