/**
 * What an admin may send to add or change a feed source (API JSON and the Data page's form), checked
 * into FeedSourceFields. The URL is checked for shape and scheme here; whether its host is public is
 * checked again at every fetch (address-policy.ts), since a name can change what it resolves to.
 */
import { z } from 'zod';
import { FEED_FORMATS, FEED_ORIGINS, type FeedFormat, type FeedSourceFields } from '../store/feed-records.js';
import { HttpError } from '../server/http-error.js';
import { checkFeedUrl, FeedFetchError } from './fetch-feed.js';

/** Refresh intervals: at most every five minutes (feeds publish hourly at best), at least every 30 days. */
export const MIN_REFRESH_MINUTES = 5;
export const MAX_REFRESH_MINUTES = 30 * 24 * 60;
/** List names as rules and data files spell them. */
export const LIST_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const feedInputSchema = z.object({
  name: z.string().trim().min(1).max(100),
  format: z.enum(FEED_FORMATS as unknown as [FeedFormat, ...FeedFormat[]]),
  origin: z.enum(FEED_ORIGINS as unknown as [FeedSourceFields['origin'], ...FeedSourceFields['origin'][]]).default('url'),
  url: z.string().trim().max(2048).optional().transform((v) => (v ? v : undefined)),
  list: z.string().trim().toLowerCase().max(64).optional().default(''),
  refreshMinutes: z.coerce.number().int().min(MIN_REFRESH_MINUTES).max(MAX_REFRESH_MINUTES).default(24 * 60),
  /** The file's text, for origin `upload` (bounded by the route's body limit). */
  content: z.string().optional(),
}).strict();

export type FeedInput = z.infer<typeof feedInputSchema>;

const RANGE_CSV: ReadonlySet<FeedFormat> = new Set(['country-csv', 'asn-csv']);
/** Formats that fill no named list: the range CSVs and the bot catalogue. */
const NO_LIST: ReadonlySet<FeedFormat> = new Set([...RANGE_CSV, 'bots']);

/** The stored fields, after the checks that span several fields; throws HttpError 400 with the reason. */
export function feedFields(input: FeedInput, allowPrivate: boolean): FeedSourceFields {
  const bad = (message: string): never => {
    throw new HttpError(400, message, 'invalid_feed');
  };
  const csv = RANGE_CSV.has(input.format);
  if (input.origin === 'bundled' && !csv) bad('only country-csv and asn-csv sources can use the bundled set');
  const listed = !NO_LIST.has(input.format);
  if (listed && !LIST_NAME.test(input.list)) bad('list: lower-case letters, digits, "_", "-" and "." (the name rules use), up to 64');
  if (input.origin === 'url') {
    if (!input.url) bad('url: required for a URL source');
    try {
      checkFeedUrl(input.url!, allowPrivate);
    } catch (error) {
      if (error instanceof FeedFetchError) bad(`url: ${error.message}`);
      throw error;
    }
  } else if (input.url) bad('url: only for a URL source');
  return {
    name: input.name, format: input.format, origin: input.origin, url: input.origin === 'url' ? input.url! : null,
    list: listed ? input.list : '', refreshSeconds: input.refreshMinutes * 60,
  };
}
