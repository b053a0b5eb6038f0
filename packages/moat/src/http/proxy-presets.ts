// Named groups of proxy addresses for the `trustedProxies` option.

import { readFileSync } from 'node:fs';

export type ProxyPreset = 'loopback' | 'private' | 'cloudflare';
export const PROXY_PRESETS: readonly ProxyPreset[] = ['loopback', 'private', 'cloudflare'];

/** The dated copy of Cloudflare's published ranges; a newer file replaces it. */
export const CLOUDFLARE_RANGES_FILE = 'cloudflare-ips-2026-11.json';

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * Addresses a public client never has: RFC 1918, carrier-grade NAT (RFC 6598, used inside some
 * platforms' networks) and IPv6 unique local addresses (RFC 4193). Link-local is left out on purpose.
 */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

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

/** The ranges a preset stands for. */
export function presetRanges(preset: ProxyPreset): readonly string[] {
  switch (preset) {
    case 'loopback':
      return LOOPBACK;
    case 'private':
      return PRIVATE;
    case 'cloudflare':
      return cloudflareRanges();
  }
}
