import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Actor } from '../audit/actor.js';
import type { HubContext } from '../server/context.js';
import { HttpError } from '../server/http-error.js';
import { loginPage } from '../ui/pages/login-page.js';
import { visibleSites } from './access-policy.js';
import { sessionGuard } from './guards.js';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from './password.js';
import { attemptPassword, type PasswordAttempt } from './password-attempt.js';
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
    const limiter = ctx.loginLimiter;
    const user = await ctx.store.findUserByEmail(email);
    // Verify against a dummy hash for unknown emails so timing does not tell which emails exist.
    const attempt = await attemptPassword(limiter, email, request.ip, () => verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH));
    if (attempt.outcome === 'limited' || attempt.outcome === 'busy') {
      const { status, message } = refusal(attempt);
      return renderLogin(retryAfter(reply, attempt.retryAfterMs), next, status, message, email);
    }
    if (!user || attempt.outcome === 'wrong') {
      request.log.info({ event: 'login_failed' }, 'failed sign-in');
      // One entry when an account reaches the failure limit, not one per guess: the log stays readable under a flood.
      if (user && attempt.reachedAccountLimit) await auditFailureLimit(ctx, { userId: null, email: 'anonymous', ip: request.ip }, user.email);
      return renderLogin(reply, next, 401, 'Wrong email or password.', email);
    }
    // The actor is the account itself, so no target; `recentFailures`: failures on it from anywhere, in the window.
    await ctx.audit.record({ userId: user.id, email: user.email, ip: request.ip }, 'auth.signin', { after: { recentFailures: limiter.accountFailures(email) } });
    reply.clearCookie(LOGIN_CSRF_COOKIE, { path: '/login' });
    await startSession(ctx, reply, user.id);
    return reply.redirect(user.mustChangePassword ? '/account' : next, 303);
  });

  // Signed-in account pages.
  await app.register(async (scope) => {
    scope.addHook('preHandler', sessionGuard(ctx, 'html'));

    scope.post('/logout', async (request, reply) => {
      const s = request.hubSession!;
      await ctx.audit.record({ userId: s.userId, email: s.email, ip: request.ip }, 'auth.signout');
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
      // Under the sign-in limits (by account and address): a stolen session must not become a way to guess.
      const attempt = await attemptPassword(ctx.loginLimiter, user.email, request.ip, () => verifyPassword(parsed.data.current, user.passwordHash));
      if (attempt.outcome === 'limited' || attempt.outcome === 'busy') {
        const { status, message } = refusal(attempt);
        retryAfter(reply, attempt.retryAfterMs);
        return render(status, message);
      }
      if (attempt.outcome === 'wrong') {
        if (attempt.reachedAccountLimit) await auditFailureLimit(ctx, { userId: s.userId, email: s.email, ip: request.ip }, user.email);
        return render(400, 'The current password is wrong.');
      }
      // Above all the one-time password must really be replaced; compared as scrypt sees them.
      if (parsed.data.password.normalize('NFKC') === parsed.data.current.normalize('NFKC')) {
        return render(400, 'The new password must differ from the current one.');
      }
      await ctx.store.setUserPassword(user.id, await hashPassword(parsed.data.password), false);
      await ctx.audit.record({ userId: s.userId, email: s.email, ip: request.ip }, 'user.password');
      // Other sessions of this user end; this one starts afresh.
      await ctx.store.deleteUserSessions(user.id);
      await startSession(ctx, reply, user.id);
      return reply.redirect('/account?done=1', 303);
    });
  });
}

/** The account just reached its failure limit: one audit entry, however many guesses follow in the window. */
function auditFailureLimit(ctx: HubContext, actor: Actor, account: string): Promise<void> {
  return ctx.audit.record(actor, 'auth.signin_failures', {
    target: account, after: { failures: ctx.loginLimiter.maxFailures, windowSeconds: Math.round(ctx.config.loginRateLimit.windowMs / 1000) },
  });
}

function retryAfter(reply: FastifyReply, ms: number): FastifyReply {
  return reply.header('Retry-After', Math.max(1, Math.ceil(ms / 1000)));
}

/** The answer to an attempt refused before its password was checked. */
function refusal(attempt: Extract<PasswordAttempt, { outcome: 'limited' | 'busy' }>): { status: number; message: string } {
  if (attempt.outcome === 'busy') return { status: 503, message: 'The hub is busy checking other sign-ins. Try again in a few seconds.' };
  const minutes = attempt.retryAfterMs / 60_000;
  return {
    status: 429,
    message: minutes >= 1 ? `Too many failed sign-ins. Try again in ${Math.ceil(minutes)} minute(s).`
      : `Too many sign-ins to this account at once. Try again in ${Math.max(1, Math.ceil(attempt.retryAfterMs / 1000))} seconds.`,
  };
}
