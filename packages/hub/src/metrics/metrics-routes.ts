import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { ReadinessProbe } from '../server/readiness-probe.js';
import { HubMetrics } from './hub-metrics.js';
import { signInText } from './sign-in-metrics.js';
import { longPollText } from './long-poll-metrics.js';

const UPSYNC_ROUTE = '/v2/upsync/:apiKey';

/** The counts at the start of an upsync answer (`{"ok":true,"duplicate":true,"accepted":0,"rejected":1,…}`). */
const ACCEPTED = /"accepted":(\d+)/;
const REJECTED = /"rejected":(\d+)/;

/**
 * `GET /metrics` (Prometheus text) behind a bearer token, and the hooks that feed it. Registered only
 * when a token is configured: without one the route does not exist (404) and no request pays for a hook.
 * Must be called on the root instance before the routes, so its hooks see every route.
 */
export function registerMetrics(app: FastifyInstance, ctx: HubContext, token: string): HubMetrics {
  const metrics = new HubMetrics();
  const expected = digest(token);
  const probe = new ReadinessProbe(() => ctx.store.ping());

  // Counts are taken when the answer is done: its status is final and its time known.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (route === UPSYNC_ROUTE) metrics.upsyncRequests.inc({ status: String(reply.statusCode) });
    else if (route.startsWith('/v2/downsync/')) metrics.downsyncRequests.inc({ status: String(reply.statusCode) });
    done();
  });
  // The batch outcome is read from the upsync answer itself, so ingestion needs no knowledge of metrics.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.routeOptions.url === UPSYNC_ROUTE && reply.statusCode === 200 && typeof payload === 'string') {
      const head = payload.slice(0, 200);
      metrics.countIngest({
        accepted: Number(ACCEPTED.exec(head)?.[1] ?? 0),
        rejected: Number(REJECTED.exec(head)?.[1] ?? 0),
        duplicate: head.includes('"duplicate":true'),
      });
    }
    done(null, payload);
  });

  app.get('/metrics', async (request, reply) => {
    if (!authorized(request, expected)) {
      void reply.header('www-authenticate', 'Bearer realm="moat-hub metrics"');
      throw new HttpError(401, 'send the metrics token as Authorization: Bearer <token>', 'unauthenticated');
    }
    const readiness = await probe.check();
    const text = await metrics.render(ctx.store, readiness.ready, Math.floor(ctx.now() / 1000))
      + `${longPollText(ctx.waiters.stats(), ctx.changeFeed?.stats() ?? null)}\n${signInText(ctx.loginLimiter.checks.stats())}\n`;
    return reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
  return metrics;
}

/** Digests of equal length, compared in constant time: neither the token nor its length leaks. */
function authorized(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !/^Bearer /i.test(header)) return false;
  return timingSafeEqual(digest(header.slice(7).trim()), expected);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
