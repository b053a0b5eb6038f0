import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../server/context.js';

/**
 * `GET /v2/public-key`: the key managed clients verify `X-Moat-Signature` with. JSON by default
 * (`{ algorithm, publicKey (raw 32 bytes, base64), pem (SPKI) }`); `?format=pem` gives the PEM alone.
 */
export async function publicKeyRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  app.get('/v2/public-key', async (request, reply) => {
    const key = ctx.signingKey;
    if (!key) return reply.code(404).send({ error: 'not_signing', message: 'this hub does not sign rule files' });
    if ((request.query as { format?: string }).format === 'pem') {
      return reply.type('application/x-pem-file').send(key.publicKeyPem);
    }
    return { algorithm: 'ed25519', publicKey: key.publicKeyBase64, pem: key.publicKeyPem };
  });
}
