// Koa: `app.use(moat({ rules: 'rules.moat' }))`, first in the chain. Only Koa's types are imported.

import type { Middleware } from 'koa';
import type { Firewall } from '../firewall/firewall.js';
import { firewallFrom, type FirewallOrOptions } from './firewall-from.js';

export type MoatKoaMiddleware = Middleware & { readonly firewall: Firewall };

export function moat(options?: FirewallOrOptions): MoatKoaMiddleware {
  const firewall = firewallFrom(options);
  const middleware: Middleware = async (ctx, next) => {
    // koa-mount rewrites ctx.req.url; rules see the original target. A body parser before Moat leaves
    // what it read on ctx.request.body, which is judged in place of the bytes.
    let verdict = firewall.check(ctx.req, ctx.originalUrl, (ctx.request as { body?: unknown }).body);
    if (verdict instanceof Promise) verdict = await verdict;
    if (verdict === null) return next();
    ctx.status = verdict.status;
    if (verdict.headers !== undefined) ctx.set(verdict.headers);
    ctx.body = verdict.body ?? '';
  };
  return Object.assign(middleware, { firewall });
}
