// Bun: the example servers under the real `bun` binary from node_modules, running the client's TypeScript
// source, with rules and data files read through bun:sqlite: examples/bun/server.ts (Bun.serve +
// withMoatFetch) and examples/bun/hono.ts (Hono's app.fetch on Bun.serve, Moat's Hono adapter judging the
// Web request with the address Bun passes), and a node:http server judged by Moat's Node path (what an Express app on
// Bun runs). The shared Web-runtime conformance set runs against each on real sockets.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { webRuntimeConformance } from './helpers/web-runtime-conformance.js';

const bun = join(dirname(createRequire(import.meta.url).resolve('bun/package.json')), 'bin', 'bun.exe');

webRuntimeConformance('bun', () => ({ command: bun, args: ['examples/bun/server.ts'] }));
webRuntimeConformance('hono on bun', () => ({ command: bun, args: ['examples/bun/hono.ts'] }));
// Express and other node:http apps run on Bun unchanged: Moat's Node path, with bun:sqlite underneath.
webRuntimeConformance('node:http on bun', () => ({ command: bun, args: ['packages/moat/test/fixtures/node-runtime-server.ts'] }),
  { env: { MOAT_SERVER: 'node' }, contentTypeLists: false });
