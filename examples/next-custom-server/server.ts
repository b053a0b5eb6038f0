// Next.js (Node runtime) protected by Moat, through a custom server. Build once, then run:
//   NEXT_TELEMETRY_DISABLED=1 npx next build examples/next-custom-server && node --import tsx examples/next-custom-server/server.ts
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nextModule from 'next';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moatForNext } from 'moat-waf/adapters/next';

// Compile the rules as code into a rules file (in production: `npx moat-waf compile` at build time).
const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('../rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

// next is CommonJS (`module.exports = createServer`): Node's default import is the factory itself, while its
// typings describe an ES module whose `default` is the factory, so the value is typed as that export.
const next = nextModule as unknown as typeof nextModule.default;
const app = next({ dev: false, dir: fileURLToPath(new URL('.', import.meta.url)) });
await app.prepare();

// Clients connect directly. Behind a proxy, list it: ['loopback'], ['private'], ['cloudflare'] or CIDRs.
const server = createServer(moatForNext(app, { rules, trustedProxies: [] }));
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`moat example (next) listening on http://127.0.0.1:${port}`);
});
