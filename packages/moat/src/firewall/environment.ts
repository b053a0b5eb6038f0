// Environment variables, with the Wafris names where they mean the same thing.

/** `TRUSTED_PROXY_RANGES`: comma-separated IPs/CIDRs (presets accepted too), added to `trustedProxies`. */
export function trustedProxiesFromEnv(env: Record<string, string | undefined>): string[] {
  const value = env.TRUSTED_PROXY_RANGES;
  if (value === undefined) return [];
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** `MOAT_IP_HEADER`: the one header trusted proxies write the client into (the `ipHeader` option wins). */
export function ipHeaderFromEnv(env: Record<string, string | undefined>): string | undefined {
  const value = env.MOAT_IP_HEADER?.trim();
  return value === undefined || value === '' ? undefined : value;
}
