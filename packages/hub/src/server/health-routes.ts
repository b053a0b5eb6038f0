import type { FastifyInstance } from 'fastify';
import type { HubContext } from './context.js';
import { ReadinessProbe } from './readiness-probe.js';

/**
 * Health for load balancers and orchestrators, unauthenticated and bodyless:
 * - `GET /healthz` — liveness: the process runs and serves HTTP; never touches the database, so a
 *   database outage does not get healthy hubs restarted.
 * - `GET /readyz` — readiness: the store answers a trivial query within 2 s (200 `{ready:true}`), else 503
 *   `{ready:false, error:'database_unavailable'}`, so a balancer sends traffic only to hubs that can serve it.
 */
export async function healthRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const probe = new ReadinessProbe(() => ctx.store.ping());

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_request, reply) => {
    const readiness = await probe.check();
    void reply.header('cache-control', 'no-store');
    if (readiness.ready) return { ready: true };
    const message = readiness.reason === 'timeout' ? 'the database did not answer in time' : 'the database is unavailable';
    return reply.code(503).send({ ready: false, error: 'database_unavailable', message });
  });
}
