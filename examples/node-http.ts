// A node:http server protected by Moat. Run: node --import tsx examples/node-http.ts
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { withMoat } from 'moat-waf/adapters/node';

// Compile the rules as code into a rules file (in production: `npx moat-waf compile` at build time).
const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

const handler = withMoat((req, res) => {
  res.end(`hello from ${req.url}\n`);
}, {
  rules,
  // Clients connect directly. Behind a proxy, list it: ['loopback'], ['private'], ['cloudflare'] or CIDRs.
  trustedProxies: [],
});

const server = createServer(handler).listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`moat example (node:http) listening on http://127.0.0.1:${port}`);
});
