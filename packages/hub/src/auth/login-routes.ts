import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { loginPage } from '../ui/pages/login-page.js';
import { visibleSites } from './access-policy.js';
import { sessionGuard } from './guards.js';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from './password.js';
import { safeNextPath } from './safe-next-path.js';
import { randomToken } from './secrets.js';
import { endSession, safeEqual, startSession } from './session.js';
import { accountPage } from '../ui/pages/account-page.js';

/** Double-submit token for the login form, which has no session to hold a CSRF token yet. */
const LOGIN_CSRF_COOKIE = 'moat_login_csrf';

const loginSchema = z.object({
  email: z.string().trim().min(1).max(254),
  password: z.string().min(1).max(1024),
  next: z.string().max(2048).optional(),
  _csrf: z.string().max(100).optional(),
});

const passwordChangeSchema = z.object({
  current: z.string().min(1).max(1024),
  password: z.string().min(10, 'the new password needs at least 10 characters').max(1024),
});

// Dashboard forms follow `back` with the same check.
export { safeNextPath };

export async function loginRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  const renderLogin = (reply: import('fastify').FastifyReply, next: string, status: number, error?: string, email?: string) => {
    const csrf = randomToken(18);
    reply.setCookie(LOGIN_CSRF_COOKIE, csrf, { path: '/login', httpOnly: true, sameSite: 'strict', secure: ctx.config.secureCookies });
    return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store')
      .send(loginPage({ csrf, next, error, email }));
  };

  app.get('/login', async (request, reply) => {
    const next = safeNextPath((request.query as { next?: unknown }).next);
    return renderLogin(reply, next, 200);
  });

  app.post('/login', async (request, reply) => {
    const parsed = loginSchema.safeParse(request.body);
    if (!parsed.success) return renderLogin(reply, '/', 400, 'Enter your email and password.');
    const { email, password } = parsed.data;
    const next = safeNextPath(parsed.data.next);
    const cookieToken = request.cookies[LOGIN_CSRF_COOKIE];
    if (!cookieToken || !parsed.data._csrf || !safeEqual(cookieToken, parsed.data._csrf)) {
      return renderLogin(reply, next, 403, 'The sign-in form expired. Try again.', email);
    }
    const limit = ctx.loginLimiter.check(email, request.ip);
    if (limit.retryAfterMs > 0) {
      reply.header('Retry-After', Math.ceil(limit.retryAfterMs / 1000));
      return renderLogin(reply, next, 429, `Too many failed sign-ins. Try again in ${Math.ceil(limit.retryAfterMs / 60_000)} minute(s).`, email);
    }
    // The account is being guessed at from many addresses: slow every attempt down, lock nobody out.
    if (limit.slowdownMs > 0) await sleep(limit.slowdownMs);
    const user = await ctx.store.findUserByEmail(email);
    // Verify against a dummy hash for unknown emails so timing does not tell which emails exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok) {
      ctx.loginLimiter.recordFailure(email, request.ip);
      request.log.info({ event: 'login_failed' }, 'failed sign-in');
      return renderLogin(reply, next, 401, 'Wrong email or password.', email);
    }
    ctx.loginLimiter.recordSuccess(email, request.ip);
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' });
    await startSession(ctx, reply, user.id);
    return reply.redirect(user.mustChangePassword ? '/account' : next, 303);
  });

  // Signed-in account pages.
  await app.register(async (scope) => {
    scope.addHook('preHandler', sessionGuard(ctx, 'html'));

    scope.post('/logout', async (request, reply) => {
      await endSession(ctx, request, reply);
      return reply.redirect('/login', 303);
    });

    scope.get('/account', async (request, reply) => {
      const s = request.hubSession!;
      return reply.type('text/html; charset=utf-8').send(accountPage({
        user: { email: s.email, csrfToken: s.csrfToken, role: s.role }, mustChange: s.mustChangePassword, sites: await visibleSites(ctx.store, s),
        notice: (request.query as { done?: string }).done === '1' ? 'Password changed.' : undefined,
      }));
    });

    scope.post('/account/password', async (request, reply) => {
      const s = request.hubSession!;
      const render = async (status: number, error: string) => reply.code(status).type('text/html; charset=utf-8').send(accountPage({
        user: { email: s.email, csrfToken: s.csrfToken, role: s.role }, mustChange: s.mustChangePassword, sites: await visibleSites(ctx.store, s), error,
      }));
      const parsed = passwordChangeSchema.safeParse(request.body);
      if (!parsed.success) return render(400, parsed.error.issues[0]?.message ?? 'invalid input');
      const user = await ctx.store.getUserWithSecret(s.userId);
      if (!user) throw new HttpError(401, 'sign in first', 'unauthenticated');
      if (!(await verifyPassword(parsed.data.current, user.passwordHash))) return render(400, 'The current password is wrong.');
      // Above all the one-time password must really be replaced; compared as scrypt sees them.
      if (parsed.data.password.normalize('NFKC') === parsed.data.current.normalize('NFKC')) {
        return render(400, 'The new password must differ from the current one.');
      }
      await ctx.store.setUserPassword(user.id, await hashPassword(parsed.data.password), false);
      // Other sessions of this user end; this one starts afresh.
      await ctx.store.deleteUserSessions(user.id);
      await startSession(ctx, reply, user.id);
      return reply.redirect('/account?done=1', 303);
    });
  });
}
