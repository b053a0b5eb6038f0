import { createHash } from 'node:crypto';

/**
 * Freshness statements: with every downsync 200 and 304 the hub signs a line saying, for the site of the
 * API key asked with and the category asked for, which file (its SHA-256) is current, and when:
 *   moat-file-v2 site=<32 hex> category=<custom_rules|data_subscriptions> sha256=<64 hex> issued=<unix ms>
 * sent as `X-Moat-Freshness`, its base64 ed25519 signature as `X-Moat-Freshness-Signature`. The file
 * signatures only say that the hub made some bytes; with this a Moat client refuses a file signed for
 * another site, or one older than what it has (a replay), and notices 304s that never come with a new
 * statement. Wafris clients ignore the headers. The client's side is moat-waf's sync/freshness.ts.
 */
export const FRESHNESS_HEADER = 'X-Moat-Freshness';
export const FRESHNESS_SIGNATURE_HEADER = 'X-Moat-Freshness-Signature';

export type FreshnessCategory = 'custom_rules' | 'data_subscriptions';

/**
 * The site as statements name it, from the API key in the request's URL: the client computes the same
 * from its key. A label of its own, so it is neither the key nor the hash the store looks keys up by.
 */
export function siteTag(apiKey: string): string {
  return createHash('sha256').update(`moat-site:${apiKey}`, 'utf8').digest('hex').slice(0, 32);
}

export function freshnessStatement(site: string, category: FreshnessCategory, sha256: string, issued: number): string {
  return `moat-file-v2 site=${site} category=${category} sha256=${sha256} issued=${Math.floor(issued)}`;
}
