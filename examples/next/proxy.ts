// Moat in front of every route of this Next.js app, under plain `next start` (no custom server).
import { moatProxy } from 'moat-waf/adapters/next-proxy';

export const proxy = moatProxy({ rules: process.env.MOAT_RULES ?? 'rules.moat' });

// Static assets need no judging; everything else (pages, route handlers, server actions) is judged.
export const config = { matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'] };
