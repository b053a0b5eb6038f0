// Astro with server output and @astrojs/node standalone: `astro build` writes dist/,
// `node dist/server/entry.mjs` serves it (HOST, PORT).
import node from '@astrojs/node';
import { defineConfig } from 'astro/config';

export default defineConfig({
  output: 'server',
  adapter: node({ mode: 'standalone' }),
  // The tests post forms without an Origin header, as non-browser clients (and attackers) do.
  security: { checkOrigin: false },
  telemetry: false,
  // Moat opens its rules with better-sqlite3, a native module: loaded from node_modules at run time, not bundled.
  vite: { ssr: { external: ['moat-waf', 'better-sqlite3'] } },
});
