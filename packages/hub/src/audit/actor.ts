import type { FastifyRequest } from 'fastify';
import { HttpError } from '../server/http-error.js';

/** Who made a change, as the audit log records it. */
export interface Actor {
  /** null for the hub itself (a rule reaching its expiry). */
  userId: number | null;
  email: string;
  ip: string | null;
}

/** The hub acting on its own, e.g. a rule that expired. */
export const HUB_ACTOR: Actor = { userId: null, email: 'hub', ip: null };

/** The signed-in user behind a request; only routes behind the session guard can name one. */
export function actorOf(request: FastifyRequest): Actor {
  const session = request.hubSession;
  if (!session) throw new HttpError(401, 'sign in first', 'unauthenticated');
  return { userId: session.userId, email: session.email, ip: request.ip };
}
