// Who the client is, as the options and the environment configure it: the trusted proxies
// (`trustedProxies` plus `TRUSTED_PROXY_RANGES`) and the single header they are read from (the `ipHeader`
// option, else `MOAT_IP_HEADER`, else the header the platform presets in trustedProxies name, else
// X-Forwarded-For). Pure: options in, a choice (or a clear error) out. The Wafris names are kept for the
// environment variables that mean the same thing.

import { DEFAULT_IP_HEADER, FORWARDING_HEADERS, isForwardingHeader, type ForwardingHeader } from '../http/client-address.js';
import type { PresetHeader } from '../http/trusted-proxies.js';
import { OptionError } from '../errors/moat-error.js';

export interface IpHeaderChoice {
  header: ForwardingHeader;
  /** A note for the log when the deprecated `ipHeaders` list was used. */
  deprecation: string | null;
}

export interface IpHeaderInputs {
  ipHeader?: string;
  /** Deprecated: a one-element list is read as `ipHeader`. */
  ipHeaders?: readonly string[];
  /** `MOAT_IP_HEADER`. */
  fromEnv?: string;
  presetHeaders: readonly PresetHeader[];
}

/** Throws an Error naming the problem when the inputs do not give exactly one known header. */
export function chooseIpHeader(inputs: IpHeaderInputs): IpHeaderChoice {
  let deprecation: string | null = null;
  let explicit = inputs.ipHeader === undefined ? undefined : known(inputs.ipHeader, 'ipHeader');
  if (inputs.ipHeaders !== undefined) {
    const list = inputs.ipHeaders;
    const only = list[0];
    if (list.length !== 1 || only === undefined) {
      throw new OptionError(`moat: ipHeaders lists ${list.length} headers, but Moat reads exactly one: set ipHeader to the ` +
        'header your proxy writes (a client can send any header the proxy does not overwrite). To read no header, trust no proxy.');
    }
    const fromList = known(only, 'ipHeaders');
    if (explicit !== undefined && explicit !== fromList) {
      throw new OptionError(`moat: ipHeader ${JSON.stringify(explicit)} and ipHeaders ${JSON.stringify(list)} disagree; set ipHeader only`);
    }
    explicit = fromList;
    deprecation = `moat: the ipHeaders option is deprecated; write ipHeader: '${fromList}'`;
  }
  explicit ??= inputs.fromEnv === undefined ? undefined : known(inputs.fromEnv, 'MOAT_IP_HEADER');
  if (explicit !== undefined) return { header: explicit, deprecation };

  const named = inputs.presetHeaders;
  const first = named[0];
  if (first === undefined) return { header: DEFAULT_IP_HEADER, deprecation };
  const other = named.find((p) => p.header !== first.header);
  if (other !== undefined) {
    throw new OptionError(`moat: trustedProxies lists ${first.preset} (which sets ${first.header}) and ${other.preset} ` +
      `(which sets ${other.header}); set ipHeader to the one header the proxy in front of the app writes`);
  }
  return { header: first.header, deprecation };
}

function known(name: string, option: string): ForwardingHeader {
  const lower = name.trim().toLowerCase();
  if (isForwardingHeader(lower)) return lower;
  throw new OptionError(`moat: ${option} ${JSON.stringify(name)} is not a client-IP header Moat reads (${FORWARDING_HEADERS.join(', ')})`);
}

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
