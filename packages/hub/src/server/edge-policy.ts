import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { checkAccess } from '../auth/access-policy.js';
import { loadSession } from '../auth/session.js';
import type { HubContext } from './context.js';
import { HttpError } from './http-error.js';

// What the hub accepts before it reads a request body: who may send one, and how big. Fastify reads and
// parses a body between the onRequest and preValidation hooks, so anything that must refuse a stranger
// without parsing their bytes has to be an onRequest hook. One table here rather than a flag per route:
// a new route is session-only and small unless it is listed.

/** Body limit of every route not listed below: the JSON API and the dashboard's forms are small. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** The sign-in form: email, password, next path and a token. */
export const LOGIN_BODY_LIMIT = 16 * 1024;
/** The rules import (JSON API and form) takes documents of up to 5 M characters. */
export const IMPORT_BODY_LIMIT = 6 * 1024 * 1024;

/** Routes that take a body from someone without a session: each authenticates (or is the sign-in) itself. */
const PUBLIC_BODY_ROUTES: ReadonlySet<string> = new Set([
  'POST /login',
  // Its API key is checked in the route's own onRequest hook, also before the body is read.
  'POST /v2/upsync/:apiKey',
]);

const BODY_LIMITS: ReadonlyMap<string, number> = new Map([
  ['POST /login', LOGIN_BODY_LIMIT],
  ['POST /api/sites/:siteId/rules/import', IMPORT_BODY_LIMIT],
  ['POST /sites/:siteId/rules/import', IMPORT_BODY_LIMIT],
]);

const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * Installs the policy: must run before any route is registered. Routes that set their own bodyLimit
 * (upsync: `upsyncMaxBytes`) keep it; every other route gets its limit from the table, and every
 * body-taking route not listed as public refuses a request without a valid session in onRequest, so the
 * body is never read. Requests for routes that do not exist are answered 404 before their body is read.
 */
export function registerEdgePolicy(app: FastifyInstance, ctx: HubContext): void {
  const requireSession = async (request: FastifyRequest) => {
    const session = await loadSession(ctx, request);
    // The unread body is then drained by Node (read and dropped, never parsed); closing the socket
    // instead would turn the 401 into a connection reset for a client still sending.
    if (!session) throw new HttpError(401, 'sign in first', 'unauthenticated');
    request.hubSession = session;
    // A viewer's post to an admin route is refused here too, so its body is never read either.
    checkAccess(request, session);
  };

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const keys = methods.filter((m) => !BODYLESS_METHODS.has(m)).map((m) => `${m} ${route.url}`);
    if (keys.length === 0) return;
    route.bodyLimit ??= Math.max(...keys.map((k) => BODY_LIMITS.get(k) ?? DEFAULT_BODY_LIMIT));
    if (keys.some((k) => !PUBLIC_BODY_ROUTES.has(k))) {
      const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [requireSession, ...own];
    }
  });

  // Callback style: this runs for every request, and an async hook would cost a promise each time.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404 && !BODYLESS_METHODS.has(request.method) && announcesBody(request)) {
      done(new HttpError(404, 'not found', 'not_found'));
      return;
    }
    done();
  });
}

function announcesBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
