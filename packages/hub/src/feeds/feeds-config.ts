/** The feed fetcher's bounds (HubOptions.feeds), checked and with their defaults. */
import { z } from 'zod';

export interface FeedsOptions {
  /**
   * Fetch feeds from loopback, private, link-local and other non-public addresses too. Off by default:
   * a feed URL is fetched by the hub from inside its network (SSRF).
   */
  allowPrivate?: boolean;
  /** Largest feed, on the wire and after gzip, and largest upload (default 64 MiB). */
  maxBytes?: number;
  /** One deadline for a whole fetch, redirects included (default 60 000 ms). */
  timeoutMs?: number;
  /** Redirects followed per fetch (default 3). */
  maxRedirects?: number;
  /** How often due sources are looked for (default 60 000 ms). */
  tickMs?: number;
}

export type FeedsConfig = Required<FeedsOptions>;

const schema = z.object({
  allowPrivate: z.boolean().default(false),
  maxBytes: z.number().int().min(1024).max(2 * 1024 ** 3).default(64 * 1024 * 1024),
  timeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  maxRedirects: z.number().int().min(0).max(10).default(3),
  tickMs: z.number().int().min(50).max(86_400_000).default(60_000),
}).strict();

export function resolveFeedsConfig(options: FeedsOptions | undefined): FeedsConfig {
  return schema.parse(options ?? {});
}
