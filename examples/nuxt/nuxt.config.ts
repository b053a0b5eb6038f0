// Nuxt 4 with Nitro's default node-server preset: `nuxt build` writes .output/,
// `node .output/server/index.mjs` serves it (HOST, PORT). No pages: the server routes are the app.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// This repository's root holds h3 2 for other tests, while Nitro 2 runs on h3 1: the server routes'
// auto-imports (defineEventHandler, readBody) must come from Nitro's own h3. An app of its own needs neither
// this nor the `external` below.
const fromNitro = createRequire(createRequire(import.meta.url).resolve('nitropack/package.json'));
const h3 = dirname(fromNitro.resolve('h3/package.json'));

export default {
  compatibilityDate: '2025-07-15',
  telemetry: false,
  pages: false,
  devtools: { enabled: false },
  nitro: {
    alias: { h3 },
    // An installed moat-waf (and better-sqlite3, the native module it reads rules with) is left out of the
    // bundle and traced into .output/server/node_modules by Nitro itself. Here it is a workspace link, which
    // Nitro would bundle, so it is kept external and resolved from the repository's node_modules.
    rollupConfig: { external: ['moat-waf', /^moat-waf\//, 'better-sqlite3'] },
  },
};
