// Named proxies for the `trustedProxies` option: which peers a preset trusts and, for platforms, the one
// header that platform writes the client's address into. A preset names a header only when the
// platform documents that it sets it; where a platform does not publish the addresses its proxy
// connects from, the preset trusts private (or loopback) peers, and the docs say so.

import { readFileSync } from 'node:fs';
import type { ForwardingHeader } from './client-address.js';

export type ProxyPreset = 'loopback' | 'private' | 'unix' | 'cloudflare' | 'fly' | 'vercel' | 'aws-alb' | 'gcp-lb';
export const PROXY_PRESETS: readonly ProxyPreset[] = ['loopback', 'private', 'unix', 'cloudflare', 'fly', 'vercel', 'aws-alb', 'gcp-lb'];

/** The dated copy of Cloudflare's published ranges; a newer file replaces it. */
export const CLOUDFLARE_RANGES_FILE = 'cloudflare-ips-2026-11.json';

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * Addresses a public client never has: RFC 1918, carrier-grade NAT (RFC 6598, used inside some
 * platforms' networks) and IPv6 unique local addresses (RFC 4193). Link-local is left out on purpose.
 */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

/**
 * Google Front Ends, the proxies of Google Cloud's global external Application Load Balancers: Google
 * documents these as the source ranges of both its health checks and the proxied traffic.
 */
const GOOGLE_FRONT_ENDS = ['35.191.0.0/16', '130.211.0.0/22', '2600:2d00:1:b029::/64', '2600:2d00:1:1::/64'];

let cloudflare: readonly string[] | null = null;

/** Read from the package's data folder (one level above src/ and dist/ alike), once. */
function cloudflareRanges(): readonly string[] {
  if (cloudflare === null) {
    const url = new URL(`../../data/${CLOUDFLARE_RANGES_FILE}`, import.meta.url);
    const file = JSON.parse(readFileSync(url, 'utf8')) as { ipv4: string[]; ipv6: string[] };
    cloudflare = Object.freeze([...file.ipv4, ...file.ipv6]);
  }
  return cloudflare;
}

export function isProxyPreset(name: string): name is ProxyPreset {
  return (PROXY_PRESETS as readonly string[]).includes(name);
}

/** The ranges a preset stands for (none for `unix`: a Unix socket peer has no address). */
export function presetRanges(preset: ProxyPreset): readonly string[] {
  switch (preset) {
    case 'loopback':
      return LOOPBACK;
    case 'private':
    case 'fly': // Fly.io does not publish its proxy's addresses; they are on the machine's private network.
    case 'aws-alb': // An ALB connects from addresses inside your VPC's subnets.
      return PRIVATE;
    case 'vercel': // Not published either: a local bridge or the platform's private network.
      return [...LOOPBACK, ...PRIVATE];
    case 'gcp-lb':
      return GOOGLE_FRONT_ENDS;
    case 'cloudflare':
      return cloudflareRanges();
    case 'unix':
      return [];
  }
}

/** The header a platform preset reads the client from, or null when the preset says nothing about it. */
export function presetHeader(preset: ProxyPreset): ForwardingHeader | null {
  switch (preset) {
    case 'cloudflare':
      return 'cf-connecting-ip';
    case 'fly':
      // Fly appends the app's own public address to X-Forwarded-For, so its right end is not the client.
      return 'fly-client-ip';
    case 'vercel': // Vercel overwrites X-Forwarded-For with the client's address.
    case 'aws-alb': // In its default `append` mode.
    case 'gcp-lb': // Followed by the load balancer's own address: list that as a trusted proxy too.
      return 'x-forwarded-for';
    default:
      return null;
  }
}
