// A Next.js app served by a custom server (examples/next-custom-server/server.ts) with Moat in front.
// For the usual `next start` deployment, see examples/next (proxy.ts) instead.
/** @type {import('next').NextConfig} */
export default {
  // The monorepo has lockfiles above this folder; this app's root is here.
  turbopack: { root: new URL('../..', import.meta.url).pathname },
};
