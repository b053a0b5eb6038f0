import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { siteForApiKey } from '../auth/api-key-auth.js';
import type { HubContext } from '../server/context.js';
import { chooseFormat } from './client-format.js';
import { findDataFile } from './data-files.js';
import { FileSignatures } from './file-signatures.js';
import { sendFile } from './send-file.js';

const text = z.string().max(256).optional();
const querySchema = z.object({
  client: text, client_db: text, framework: text, hostname: text, process_id: text, version: text,
  format: z.enum(['moat', 'wafris']).optional(),
});
const paramsSchema = z.object({ category: z.enum(['custom_rules', 'data_subscriptions']), apiKey: z.string() });

/**
 * `GET /v2/downsync/{custom_rules|data_subscriptions}/{apiKey}`, as Wafris v2 clients call it:
 * 200 with the SQLite file (name in Content-Disposition), 304 when `client_db` names the current
 * file (or If-None-Match its ETag), 401 for a bad key.
 */
export async function downsyncRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const signatures = ctx.signingKey ? new FileSignatures(ctx.signingKey) : null;
  if (signatures) {
    // Sign each new rules file as it is built, so its first download does not wait for it.
    ctx.builder.onBuilt((path) => signatures.warm(path).catch((error: unknown) => {
      app.log.warn({ err: error }, 'could not sign a new rules file ahead of its download; it is signed on first download');
    }));
  }
  app.get('/v2/downsync/:category/:apiKey', async (request, reply) => {
    const params = paramsSchema.safeParse(request.params);
    if (!params.success) {
      return reply.code(404).send({ error: 'not_found', message: 'unknown downsync category: use custom_rules or data_subscriptions' });
    }
    const { siteId, keyId } = await siteForApiKey(ctx.store, params.data.apiKey);
    const query = querySchema.parse(request.query);
    const format = chooseFormat(query);
    const nowSeconds = Math.floor(ctx.now() / 1000);
    await ctx.store.touchApiKey(keyId, nowSeconds);

    let file: { path: string; fileName: string; etag: string };
    if (params.data.category === 'custom_rules') {
      const build = await ctx.builder.current(siteId, format);
      file = { path: build.path, fileName: build.fileName, etag: build.hash.slice(0, 32) };
    } else {
      const found = await findDataFile(ctx.config.dataFilesDir, format);
      if (!found) {
        return reply.code(404).send({
          error: 'no_data_file',
          message: `this hub has no data_subscriptions file for ${format} clients yet; custom rules are served as usual`,
        });
      }
      file = found;
    }

    await ctx.store.recordClientContact({
      siteId, apiKeyId: keyId, hostname: query.hostname ?? '', processId: query.process_id ?? '',
      client: query.client ?? '', version: query.version ?? '', framework: query.framework ?? '',
      category: params.data.category, format, clientDb: query.client_db ?? '', servedFile: file.fileName,
      ip: request.ip, lastSeen: nowSeconds,
    });

    const etag = `"${file.etag}"`;
    reply.header('ETag', etag).header('Cache-Control', 'no-cache');
    if (query.client_db === file.fileName || ifNoneMatch(request.headers['if-none-match'], etag)) {
      return reply.code(304).send();
    }
    return sendFile(reply, file.path, file.fileName, signatures);
  });
}

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}
