// Bun: the example server (examples/bun/server.ts, Bun.serve + withMoatFetch) under the real `bun`
// binary from node_modules, running the client's TypeScript source, with rules and data files read
// through bun:sqlite. The shared Web-runtime conformance set runs against it on real sockets.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { webRuntimeConformance } from './helpers/web-runtime-conformance.js';

const bun = join(dirname(createRequire(import.meta.url).resolve('bun/package.json')), 'bin', 'bun.exe');

webRuntimeConformance('bun', () => ({ command: bun, args: ['examples/bun/server.ts'] }));
