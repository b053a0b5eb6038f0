/**
 * The `next` / `after` cursor of GET /api/sites/:id/rules: where the previous page ended in list order
 * (the store's RuleListKey: position, then id), opaque to clients. Paging by it sees every rule present
 * throughout exactly once, whatever is added or deleted between pages, where an offset skips one for each
 * rule deleted before it. A cursor grants nothing (the site and the access are the request's): an edited
 * one that still decodes only starts the page elsewhere; one that does not decode is a 400.
 */
import { z } from 'zod';
import type { RuleListKey } from '../store/store.js';

/** First in every cursor, so a later format can tell this one from its own. */
const FORMAT = 1;
/** Rule ids are up to 64 characters today; room for longer ones an older hub may have stored. */
const MAX_ID_CHARS = 256;
const MAX_CURSOR_CHARS = 512;

const cursorContent = z.tuple([
  z.literal(FORMAT), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(MAX_ID_CHARS),
]);

export function encodeRuleCursor(key: RuleListKey): string {
  return Buffer.from(JSON.stringify([FORMAT, key.position, key.id])).toString('base64url');
}

/** The key a cursor holds, or undefined when it is not a cursor this hub gives. */
export function decodeRuleCursor(cursor: string): RuleListKey | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > MAX_CURSOR_CHARS) return undefined;
  let content: unknown;
  try {
    content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = cursorContent.safeParse(content);
  return parsed.success ? { position: parsed.data[1], id: parsed.data[2] } : undefined;
}

/** The query parameter `after` in a zod schema: the key, or a validation issue (a 400) saying what to pass. */
export const ruleCursorParam = z.string().max(MAX_CURSOR_CHARS).transform((cursor, ctx): RuleListKey => {
  const key = decodeRuleCursor(cursor);
  if (key === undefined) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor of this list: pass the previous page\'s `next` as it came' });
    return z.NEVER;
  }
  return key;
});
