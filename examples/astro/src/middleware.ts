// Moat in front of every on-demand route of this Astro app (pages, endpoints, actions). The adapter takes
// the client address from the socket, not from context.clientAddress, which @astrojs/node fills from
// X-Forwarded-For whenever a client sends one.
import { moat } from 'moat-waf/adapters/astro';

export const onRequest = moat({ rules: process.env.MOAT_RULES ?? 'rules.moat' });
