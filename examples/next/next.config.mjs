// A Next.js 16 app protected by Moat in proxy.ts. Build and run (rules compiled first):
//   npx moat-waf compile examples/rules.json -o examples/next/rules.moat
//   NEXT_TELEMETRY_DISABLED=1 npx next build examples/next
//   MOAT_RULES=examples/next/rules.moat NODE_OPTIONS='--import moat-waf/adapters/next-preload' npx next start examples/next
// (the preload lets Moat see the connection of requests that arrive while Next is still starting)
/** @type {import('next').NextConfig} */
export default {
  // Moat opens its rules with better-sqlite3, a native module: loaded from node_modules, not bundled.
  serverExternalPackages: ['moat-waf', 'better-sqlite3'],
  // The monorepo has lockfiles above this folder; this app's root is here.
  turbopack: { root: new URL('../..', import.meta.url).pathname },
};
