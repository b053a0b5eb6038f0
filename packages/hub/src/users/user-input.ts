import { z } from 'zod';
import { ROLES, type Role } from '../store/store.js';

const roleSchema = z.enum(ROLES as unknown as [Role, ...Role[]]);
/** At most this many sites granted in one request; far above real use, bounds the work. */
const MAX_GRANTS = 1000;
const siteIdsSchema = z.array(z.number().int().positive().max(2 ** 31)).max(MAX_GRANTS);

export const inviteSchema = z.object({
  email: z.email().max(254),
  role: roleSchema,
  siteIds: siteIdsSchema.default([]),
});
export type InviteInput = z.infer<typeof inviteSchema>;

export const accessSchema = z.object({
  role: roleSchema,
  siteIds: siteIdsSchema.default([]),
});
export type AccessInput = z.infer<typeof accessSchema>;

/** The site ids of a form's checkboxes, one field `site_<id>` each (the form parser keeps one value per name). */
export function siteIdsFromForm(form: Record<string, string>): number[] {
  const ids: number[] = [];
  for (const name of Object.keys(form)) {
    const match = /^site_(\d{1,10})$/.exec(name);
    const id = match ? Number(match[1]) : NaN;
    if (Number.isInteger(id) && id > 0 && id <= 2 ** 31 && ids.length < MAX_GRANTS) ids.push(id);
  }
  return ids;
}
