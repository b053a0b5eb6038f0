import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { checkAccess } from './access-policy.js';
import { loadSession, safeEqual } from './session.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Pages a user with a one-time password may still reach. */
const PASSWORD_CHANGE_PATHS = new Set(['/account', '/account/password', '/logout', '/api/me']);

/**
 * The browser-facing requests' guard: a valid session, a password that need not be changed first,
 * and for changing requests a CSRF token (form field `_csrf` or header `x-csrf-token`) equal to the
 * session's, plus a same-origin Origin header when the browser sends one, and the role's access to the
 * route and its site (access-policy.ts: admin-only unless declared otherwise).
 * `html` routes redirect to the login page; `api` routes answer 401/403 JSON.
 */
export function sessionGuard(ctx: HubContext, kind: 'html' | 'api'): preHandlerAsyncHookHandler {
  return async function guard(request: FastifyRequest, reply: FastifyReply) {
    const session = await loadSession(ctx, request);
    if (!session) {
      if (kind === 'html' && SAFE_METHODS.has(request.method)) {
        const next = encodeURIComponent(request.url);
        return reply.redirect(`/login?next=${next}`, 303);
      }
      throw new HttpError(401, 'sign in first', 'unauthenticated');
    }
    request.hubSession = session;
    checkAccess(request, session);
    if (!SAFE_METHODS.has(request.method)) checkCsrf(request, session.csrfToken);
    const path = request.url.split('?')[0]!;
    if (session.mustChangePassword && !PASSWORD_CHANGE_PATHS.has(path)) {
      if (kind === 'html' && SAFE_METHODS.has(request.method)) return reply.redirect('/account', 303);
      throw new HttpError(403, 'change the one-time password first', 'password_change_required');
    }
  };
}

export function checkCsrf(request: FastifyRequest, expected: string): void {
  checkOrigin(request);
  const header = request.headers['x-csrf-token'];
  const body = request.body as Record<string, unknown> | undefined;
  const sent = typeof header === 'string' ? header : typeof body?._csrf === 'string' ? body._csrf : '';
  if (!sent || !safeEqual(sent, expected)) throw new HttpError(403, 'missing or wrong CSRF token; reload the page', 'csrf');
}

/** Browsers send Origin on cross-site POSTs; one that names another host is refused outright. */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (!origin || origin === 'null') return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'bad Origin header', 'csrf');
  }
  if (host !== request.headers.host) throw new HttpError(403, 'cross-origin request refused', 'csrf');
}
