import type {} from '@fastify/cookie';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HubContext } from '../server/context.js';
import type { Session } from '../store/store.js';
import { randomToken, sha256Hex } from './secrets.js';

export const SESSION_COOKIE = 'moat_session';

export interface ActiveSession extends Session {
  tokenHash: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the session guard on routes that need a signed-in user. */
    hubSession?: ActiveSession;
  }
}

export function sessionCookieOptions(ctx: HubContext) {
  return {
    path: '/', httpOnly: true, sameSite: 'lax' as const, secure: ctx.config.secureCookies,
    maxAge: ctx.config.sessionTtlSeconds,
  };
}

/** Starts a session: a random token in the cookie, only its hash in the database. */
export async function startSession(ctx: HubContext, reply: FastifyReply, userId: number): Promise<void> {
  const token = randomToken(32);
  const expiresAt = Math.floor(ctx.now() / 1000) + ctx.config.sessionTtlSeconds;
  await ctx.store.createSession(sha256Hex(token), userId, randomToken(24), expiresAt);
  reply.setCookie(SESSION_COOKIE, token, sessionCookieOptions(ctx));
}

export async function loadSession(ctx: HubContext, request: FastifyRequest): Promise<ActiveSession | undefined> {
  const token = request.cookies[SESSION_COOKIE];
  if (typeof token !== 'string' || token.length < 20 || token.length > 100) return undefined;
  const tokenHash = sha256Hex(token);
  const session = await ctx.store.findSession(tokenHash, Math.floor(ctx.now() / 1000));
  return session && { ...session, tokenHash };
}

export async function endSession(ctx: HubContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = request.hubSession ?? (await loadSession(ctx, request));
  if (session) await ctx.store.deleteSession(session.tokenHash);
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
