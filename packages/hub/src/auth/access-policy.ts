import type { FastifyRequest } from 'fastify';
import { HttpError } from '../server/http-error.js';
import type { HubStore, Session, Site } from '../store/store.js';

// Who may use which signed-in route, decided in one place (the session guard calls checkAccess before
// any handler runs) rather than in each handler. Default deny: a route is for admins unless this table,
// or the route's own `config.access`, opens it to every signed-in user. A viewer is further limited to
// the sites granted to them whenever the route names a :siteId.

/** admin: admins only (the default). signed-in: viewers too (read-only pages, their own account). */
export type RouteAccess = 'admin' | 'signed-in';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may use this route; absent means 'admin'. */
    access?: RouteAccess;
  }
}

/** Routes open to viewers: reading their sites, and their own account. Keys are `METHOD /url/:pattern`. */
const SIGNED_IN_ROUTES: ReadonlySet<string> = new Set([
  // The account: every user changes their own password and signs out.
  'GET /account', 'POST /account/password', 'POST /logout', 'GET /api/me',
  // Site lists (each handler shows only the sites the user may see).
  'GET /', 'GET /sites', 'GET /sites/go', 'GET /api/sites',
  // One site's pages and data, read-only.
  'GET /sites/:siteId', 'GET /sites/:siteId/requests', 'GET /sites/:siteId/rules', 'GET /sites/:siteId/clients',
  'GET /sites/:siteId/setup',
  'GET /api/sites/:siteId/rules', 'GET /api/sites/:siteId/rules/export', 'GET /api/sites/:siteId/stats/overview',
  'GET /api/sites/:siteId/stats/top', 'GET /api/sites/:siteId/requests', 'GET /api/sites/:siteId/clients',
  'GET /api/sites/:siteId/keys', 'GET /api/sites/:siteId/audit',
]);

/** The access a route declares (HEAD is answered by the GET route, so it shares its entry). */
export function routeAccess(request: FastifyRequest): RouteAccess {
  const declared = request.routeOptions.config.access;
  if (declared) return declared;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  return SIGNED_IN_ROUTES.has(`${method} ${request.routeOptions.url}`) ? 'signed-in' : 'admin';
}

/** Throws 403 when the session's role may not use the route, 404 when the route's site is not granted. */
export function checkAccess(request: FastifyRequest, session: Session): void {
  if (session.role === 'admin') return;
  if (routeAccess(request) !== 'signed-in') throw new HttpError(403, 'this needs an admin', 'forbidden');
  const siteParam = (request.params as Record<string, unknown> | undefined)?.siteId;
  // 404 as for a site that does not exist: a viewer learns nothing about sites not granted to them.
  if (siteParam !== undefined && !session.siteIds.includes(Number(siteParam))) throw new HttpError(404, 'no such site', 'not_found');
}

/** Whether a session may see one site. */
export function canSeeSite(session: Session, siteId: number): boolean {
  return session.role === 'admin' || session.siteIds.includes(siteId);
}

/** The sites a session may see, for site lists and switchers. */
export async function visibleSites(store: HubStore, session: Session): Promise<Site[]> {
  const all = await store.listSites();
  return session.role === 'admin' ? all : all.filter((s) => session.siteIds.includes(s.id));
}
