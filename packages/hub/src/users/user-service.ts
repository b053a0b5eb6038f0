import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import { generatePassword, hashPassword } from '../auth/password.js';
import { HttpError } from '../server/http-error.js';
import { withoutSecret } from '../store/rows.js';
import type { HubStore, User, UserAccess, UserChange } from '../store/store.js';
import type { AccessInput, InviteInput } from './user-input.js';

/**
 * Inviting, changing and removing users. An invite creates the user with a one-time password, shown
 * once to the admin who invites; the user must replace it at first sign-in (the same forced change as
 * the first admin's). Every change is audited; the last admin can be neither removed nor demoted.
 */
export class UserService {
  constructor(private readonly store: HubStore, private readonly audit: AuditLog) {}

  list(): Promise<User[]> {
    return this.store.listUsers();
  }

  async invite(input: InviteInput, actor: Actor): Promise<{ user: User; oneTimePassword: string }> {
    if (await this.store.findUserByEmail(input.email)) throw new HttpError(409, 'a user with that email exists', 'user_exists');
    const oneTimePassword = generatePassword();
    let user: User;
    try {
      user = await this.store.createUser(input.email, await hashPassword(oneTimePassword), true, { role: input.role, siteIds: input.siteIds });
    } catch (error) {
      // Two invites of one address at once: the unique index lets one through.
      if (await this.store.findUserByEmail(input.email)) throw new HttpError(409, 'a user with that email exists', 'user_exists');
      throw error;
    }
    await this.audit.record(actor, 'user.invite', { target: user.email, after: accessSummary(user) });
    return { user, oneTimePassword };
  }

  async setAccess(userId: number, input: AccessInput, actor: Actor): Promise<User> {
    const before = await this.requireUser(userId);
    refuse(await this.store.setUserAccess(userId, { role: input.role, siteIds: input.siteIds }), 'demoted');
    const after = await this.requireUser(userId);
    await this.audit.record(actor, 'user.update', { target: after.email, before: accessSummary(before), after: accessSummary(after) });
    return after;
  }

  /** Removes the user; their sessions end with them, so a signed-in browser is signed out at once. */
  async remove(userId: number, actor: Actor): Promise<void> {
    const before = await this.requireUser(userId);
    refuse(await this.store.deleteUser(userId), 'removed');
    await this.audit.record(actor, 'user.remove', { target: before.email, before: accessSummary(before) });
  }

  private async requireUser(userId: number): Promise<User> {
    const user = await this.store.getUserWithSecret(userId);
    if (!user) throw new HttpError(404, 'no such user', 'not_found');
    return withoutSecret(user);
  }
}

function refuse(change: UserChange, verb: string): void {
  if (change === 'not_found') throw new HttpError(404, 'no such user', 'not_found');
  if (change === 'last_admin') throw new HttpError(409, `the last admin cannot be ${verb}; make another user admin first`, 'last_admin');
}

function accessSummary(access: UserAccess): UserAccess {
  return { role: access.role, siteIds: access.siteIds };
}
