// Every adapter takes either options (and creates its own firewall) or a firewall shared with other
// parts of the app (one engine, one set of counters for several servers or frameworks): the firewall
// itself, or `{ firewall }` as Fastify's plugin options carry it.

import { OptionError } from '../errors/moat-error.js';
import { createFirewall, Firewall } from '../firewall/firewall.js';
import type { MoatOptions } from '../firewall/options.js';

export type FirewallOrOptions = Firewall | MoatOptions | { firewall: Firewall };

export function firewallFrom(value: FirewallOrOptions | undefined): Firewall {
  if (value instanceof Firewall) return value;
  if (value === undefined || !('firewall' in value) || value.firewall === undefined) return createFirewall(value as MoatOptions | undefined);
  if (!(value.firewall instanceof Firewall)) throw new OptionError('`firewall` must be a Moat firewall (createFirewall or createManagedFirewall)');
  // Options beside a shared firewall would be silently ignored: they belong where the firewall is created.
  const others = Object.keys(value).filter((name) => name !== 'firewall' && (value as Record<string, unknown>)[name] !== undefined);
  if (others.length > 0) {
    throw new OptionError(`options ${others.map((name) => `'${name}'`).join(', ')} given beside \`firewall\` would be ignored: ` +
      'set them where the firewall is created');
  }
  return value.firewall;
}
