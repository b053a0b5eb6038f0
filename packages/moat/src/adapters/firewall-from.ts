// Every adapter takes either options (and creates its own firewall) or a firewall shared with other
// parts of the app (one engine, one set of counters for several servers or frameworks).

import { createFirewall, Firewall } from '../firewall/firewall.js';
import type { MoatOptions } from '../firewall/options.js';

export type FirewallOrOptions = Firewall | MoatOptions;

export function firewallFrom(value: FirewallOrOptions | undefined): Firewall {
  return value instanceof Firewall ? value : createFirewall(value);
}
