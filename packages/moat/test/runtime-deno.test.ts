// Deno: the example server (examples/deno/server.ts, Deno.serve + withMoatFetch) under the real `deno`
// binary from node_modules, running the client's TypeScript source, with rules and data files read
// through node:sqlite. The shared Web-runtime conformance set runs against it on real sockets.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { webRuntimeConformance } from './helpers/web-runtime-conformance.js';

const deno = join(dirname(createRequire(import.meta.url).resolve('deno/package.json')), 'deno');

webRuntimeConformance('deno', () => ({
  command: deno,
  // Reads the rules, data and fixtures, listens on 127.0.0.1, reads MOAT_* and TRUSTED_PROXY_RANGES; nothing else.
  args: ['run', '--allow-read', '--allow-env', '--allow-net=127.0.0.1', '--allow-sys', '--config', 'examples/deno/deno.json', 'examples/deno/server.ts'],
}), { largeForms: false });
