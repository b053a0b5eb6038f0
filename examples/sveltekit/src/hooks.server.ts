// Moat in front of every route of this SvelteKit app: pages, endpoints, form actions, __data.json.
// With adapter-node, getClientAddress() is the socket's address (leave ADDRESS_HEADER unset: Moat's
// trustedProxies decides when a forwarding header may name the client).
import type { Handle } from '@sveltejs/kit';
import { createFirewall } from 'moat-waf';

const firewall = createFirewall({ rules: process.env.MOAT_RULES ?? 'rules.moat' });

export const handle: Handle = async ({ event, resolve }) =>
  (await firewall.handle(event.request, { ip: event.getClientAddress() })) ?? resolve(event);
