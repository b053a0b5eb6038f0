import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../../audit/actor.js';
import { sessionGuard } from '../../auth/guards.js';
import type { HubContext } from '../../server/context.js';
import { describeError } from '../../server/error-handler.js';
import { intParam } from '../../server/params.js';
import { accessSchema, inviteSchema, siteIdsFromForm } from '../../users/user-input.js';
import { UserService } from '../../users/user-service.js';
import { auditPage } from '../pages/audit-page.js';
import { usersPage } from '../pages/users-page.js';

type Form = Record<string, string>;

const NOTICES: Record<string, string> = {
  'user-updated': 'User changed.',
  'user-removed': 'User removed; their sessions have ended.',
};
const auditQuery = z.object({ before: z.coerce.number().int().positive().optional() });
const AUDIT_PAGE_SIZE = 100;

/**
 * The Users and Audit log pages and their forms. Admins only: none of these routes is opened in the
 * access policy, and the session guard checks CSRF on every post.
 */
export async function userRoutes(app: FastifyInstance, ctx: HubContext): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    const users = new UserService(ctx.store, ctx.audit);
    const userOf = (request: FastifyRequest) => {
      const s = request.hubSession!;
      return { email: s.email, csrfToken: s.csrfToken, role: s.role };
    };
    const render = async (request: FastifyRequest, reply: FastifyReply, extra: { invited?: { email: string; oneTimePassword: string }; error?: string } = {}, status = 200) => {
      const done = (request.query as { done?: string }).done;
      return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(usersPage({
        user: userOf(request), users: await users.list(), sites: await ctx.store.listSites(),
        notice: done ? NOTICES[done] : undefined, ...extra,
      }));
    };
    /** Renders the page with the error for a refused change (4xx); anything else is the error handler's. */
    const refused = async (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
      const { status, body } = describeError(error);
      if (status >= 500) throw error;
      const detail = body.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
      return render(request, reply, { error: detail ? `${body.message} (${detail})` : body.message }, status);
    };

    ui.get('/users', async (request, reply) => render(request, reply));

    ui.post('/users', async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      try {
        const input = inviteSchema.parse({ email: form.email?.trim(), role: form.role, siteIds: siteIdsFromForm(form) });
        const { user, oneTimePassword } = await users.invite(input, actorOf(request));
        // Rendered, not redirected, so the password never appears in a URL or a later page.
        return await render(request, reply, { invited: { email: user.email, oneTimePassword } }, 201);
      } catch (error) {
        return refused(request, reply, error);
      }
    });

    ui.post('/users/:userId/access', async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      try {
        const input = accessSchema.parse({ role: form.role, siteIds: siteIdsFromForm(form) });
        await users.setAccess(intParam(request, 'userId'), input, actorOf(request));
      } catch (error) {
        return refused(request, reply, error);
      }
      return reply.redirect('/users?done=user-updated', 303);
    });

    ui.post('/users/:userId/remove', async (request, reply) => {
      const userId = intParam(request, 'userId');
      try {
        await users.remove(userId, actorOf(request));
      } catch (error) {
        return refused(request, reply, error);
      }
      // Removing oneself ends one's own session too.
      return reply.redirect(userId === request.hubSession!.userId ? '/login' : '/users?done=user-removed', 303);
    });

    ui.get('/audit', async (request, reply) => {
      const parsed = auditQuery.safeParse(request.query);
      const before = parsed.success ? parsed.data.before : undefined;
      const page = await ctx.audit.list({ before, limit: AUDIT_PAGE_SIZE });
      return reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(auditPage({
        user: userOf(request), sites: await ctx.store.listSites(), page,
      }));
    });
  });
}
