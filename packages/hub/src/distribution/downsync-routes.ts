import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { siteForApiKey } from '../auth/api-key-auth.js';
import type { HubContext } from '../server/context.js';
import { chooseFormat, LONG_POLL_HEADER, waitMs } from './downsync-query.js';
import { findDataFile } from './data-files.js';
import { FileSignatures } from './file-signatures.js';
import type { RulesFormat } from '../store/store.js';
import { sendFile, sendNotModified, type AnswerFor } from './send-file.js';
import { siteTag } from '../signing/freshness-statement.js';

const text = z.string().max(256).optional();
const querySchema = z.object({
  client: text, client_db: text, framework: text, hostname: text, process_id: text, version: text,
  format: z.enum(['moat', 'wafris']).optional(),
  // Moat clients only: seconds to hold the request while the client's file is current (long-poll).
  wait: z.string().max(32).optional(),
});
const paramsSchema = z.object({ category: z.enum(['custom_rules', 'data_subscriptions']), apiKey: z.string() });

/**
 * `GET /v2/downsync/{custom_rules|data_subscriptions}/{apiKey}`, as Wafris v2 clients call it:
 * 200 with the SQLite file (name in Content-Disposition), 304 when `client_db` names the current
 * file (or If-None-Match its ETag), 401 for a bad key. Moat clients may add `wait=<seconds>` to have a
 * current custom_rules request held until the site's rules change (long-poll; see downsync-query.ts).
 * With signing on, 200 and 304 answers carry a signed freshness statement (signing/freshness-statement.ts).
 */
export async function downsyncRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const signatures = ctx.signingKey ? new FileSignatures(ctx.signingKey) : null;
  const currentFiles = new SharedLookups(ctx);
  if (signatures) {
    // Sign each new rules file as it is built, so its first download does not wait for it.
    ctx.builder.onBuilt((path) => signatures.warm(path).catch((error: unknown) => {
      app.log.warn({ err: error }, 'could not sign a new rules file ahead of its download; it is signed on first download');
    }));
  }
  // A change of a site's rules wakes its held downsyncs; with PostgreSQL other hubs hear of it too.
  // The last rules version announced or heard per site: a hub compiling what another hub announced
  // does not announce it back (no echo between hubs).
  const announced = new Map<number, string>();
  ctx.builder.onRebuilt((siteId, built) => {
    ctx.waiters.wake(siteId);
    if (ctx.changeFeed === null || announced.get(siteId) === built.moat.fileName) return;
    announced.set(siteId, built.moat.fileName);
    ctx.changeFeed.publish({ siteId, category: 'custom_rules', version: built.moat.fileName });
  });
  ctx.changeFeed?.listen((event) => {
    if (event.kind === 'resync') {
      ctx.waiters.wakeAll(); // changes may have been missed while the feed was down: everyone re-checks
      return;
    }
    const { siteId, version } = event.change;
    announced.set(siteId, version);
    // Compiled here, once, before the held requests look for the files (not once per request).
    Promise.all([ctx.builder.current(siteId, 'moat'), ctx.builder.current(siteId, 'wafris')]).then(
      () => ctx.waiters.wake(siteId),
      (error: unknown) => {
        app.log.warn({ err: error }, 'could not build the rules of a site another hub changed; its held clients re-check');
        ctx.waiters.wake(siteId);
      },
    );
  });
  // Before the server stops waiting for open requests: held ones answer now, not at their timeout.
  app.addHook('preClose', (done) => {
    ctx.waiters.releaseAll();
    done();
  });

  app.get('/v2/downsync/:category/:apiKey', async (request, reply) => {
    const params = paramsSchema.safeParse(request.params);
    if (!params.success) {
      return reply.code(404).send({ error: 'not_found', message: 'unknown downsync category: use custom_rules or data_subscriptions' });
    }
    // Authenticated first: nothing is parsed or held for an unknown key.
    const { siteId, keyId } = await siteForApiKey(ctx.store, params.data.apiKey);
    const query = querySchema.parse(request.query);
    const format = chooseFormat(query);
    const category = params.data.category;
    // Only the rules file is pushed; data files change daily and are polled.
    const offered = category === 'custom_rules' && query.wait !== undefined;
    const holdMs = offered ? waitMs(query.wait, ctx.waiters.limits.timeoutMs) : 0;
    const nowSeconds = Math.floor(ctx.now() / 1000);
    await ctx.store.touchApiKey(keyId, nowSeconds);

    // Read before each lookup, compared before each hold: see ChangeWaiters.generation.
    let seen = ctx.waiters.generation(siteId);
    const resolve = () => category === 'custom_rules' ? currentFiles.get(siteId, format, seen) : findDataFile(ctx.config.dataFilesDir, format);
    let file = await resolve();
    if (!file) {
      return reply.code(404).send({
        error: 'no_data_file',
        message: `this hub has no data_subscriptions file for ${format} clients yet; custom rules are served as usual`,
      });
    }

    await ctx.store.recordClientContact({
      siteId, apiKeyId: keyId, hostname: query.hostname ?? '', processId: query.process_id ?? '',
      client: query.client ?? '', version: query.version ?? '', framework: query.framework ?? '',
      category, format, clientDb: query.client_db ?? '', servedFile: file.fileName,
      ip: request.ip, lastSeen: nowSeconds,
    });

    reply.header('Cache-Control', 'no-cache');
    // Any `wait` (0 too: a client probing) learns that this hub holds, and for how long at most.
    if (offered) reply.header(LONG_POLL_HEADER, String(Math.ceil((holdMs || ctx.waiters.limits.timeoutMs) / 1000)));
    const upToDate = (f: ServedFile) => query.client_db === f.fileName || ifNoneMatch(request.headers['if-none-match'], `"${f.etag}"`);
    // Held until the site's rules change into something this client lacks, or the hold ends.
    const deadline = performance.now() + holdMs;
    while (holdMs > 0 && upToDate(file)) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      if (ctx.waiters.generation(siteId) !== seen) {
        seen = ctx.waiters.generation(siteId);
        file = (await resolve()) ?? file;
        continue;
      }
      const held = ctx.waiters.wait(siteId, keyId, remaining, reply.raw);
      if (typeof held === 'string') {
        // Told to come back later (busy: at its poll interval): the connection is not kept for that.
        reply.header(LONG_POLL_HEADER, held === 'closing' ? 'closing' : 'busy').header('Connection', 'close');
        break;
      }
      const reason = await held;
      if (reason === 'closing') {
        reply.header(LONG_POLL_HEADER, 'closing').header('Connection', 'close');
        break;
      }
      if (reason !== 'changed') {
        // A hold that ends empty closes its connection: the client asks again on a new one, and one that
        // stopped reading (slowloris) keeps no descriptor on the hub past the hold.
        reply.header('Connection', 'close');
        break; // timeout, or the client is gone (the answer goes nowhere)
      }
      seen = ctx.waiters.generation(siteId);
      file = (await resolve()) ?? file;
    }

    // A key revoked while the request was held gets nothing more: not the file its hold was waiting for.
    if (holdMs > 0) await siteForApiKey(ctx.store, params.data.apiKey);
    reply.header('ETag', `"${file.etag}"`);
    // For the key asked with (derived, never the key itself): a file signed for another site does not pass.
    const answerFor: AnswerFor = { site: siteTag(params.data.apiKey), category, now: ctx.now };
    if (upToDate(file)) return sendNotModified(reply, file.path, signatures, answerFor);
    return sendFile(reply, file.path, file.fileName, signatures, answerFor);
  });
}

interface ServedFile {
  path: string;
  fileName: string;
  etag: string;
}

/**
 * The current rules file of a site, looked up once for all requests asking at the same moment: a change
 * wakes every held request of the site together, and they share one lookup instead of one each.
 */
class SharedLookups {
  private readonly pending = new Map<string, Promise<ServedFile>>();

  constructor(private readonly ctx: HubContext) {}

  /** `generation`: lookups started before a change are not shared with requests that came after it. */
  get(siteId: number, format: RulesFormat, generation: number): Promise<ServedFile> {
    const key = `${siteId}:${format}:${generation}`;
    let lookup = this.pending.get(key);
    if (lookup === undefined) {
      lookup = this.ctx.builder.current(siteId, format)
        .then((build) => ({ path: build.path, fileName: build.fileName, etag: build.hash.slice(0, 32) }))
        .finally(() => this.pending.delete(key));
      this.pending.set(key, lookup);
    }
    return lookup;
  }
}

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}
