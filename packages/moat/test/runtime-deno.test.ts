// Deno: the example servers under the real `deno` binary from node_modules, running the client's TypeScript
// source, with rules and data files read through node:sqlite: examples/deno/server.ts (Deno.serve +
// withMoatFetch) and examples/deno/hono.ts (Hono's app.fetch on Deno.serve, Moat's Hono adapter judging the
// Web request with the address Deno passes), and a node:http server judged by Moat's Node path (what an Express
// app on Deno runs). The shared Web-runtime conformance set runs against each on real sockets.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { webRuntimeConformance } from './helpers/web-runtime-conformance.js';

const deno = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'deno');

// Reads the rules, data and fixtures, listens on 127.0.0.1, reads MOAT_* and TRUSTED_PROXY_RANGES; nothing else.
const denoRun = (example: string) => () => ({
  command: deno,
  args: ['run', '--allow-read', '--allow-env', '--allow-net=127.0.0.1', '--allow-sys', '--config', 'examples/deno/deno.json', example],
});

webRuntimeConformance('deno', denoRun('examples/deno/server.ts'), { largeForms: false });
webRuntimeConformance('hono on deno', denoRun('examples/deno/hono.ts'), { largeForms: false });
// Express and other node:http apps run on Deno too: Moat's Node path on Deno's node:http, with node:sqlite underneath.
webRuntimeConformance('node:http on deno', denoRun('packages/moat/test/fixtures/node-runtime-server.ts'), { env: { MOAT_SERVER: 'node' }, contentTypeLists: false });
