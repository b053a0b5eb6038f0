// A Fastify app protected by Moat. Run: node --import tsx examples/fastify.ts
import Fastify from 'fastify';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moat } from 'moat-waf/adapters/fastify';

const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

const app = Fastify({ logger: { level: 'warn' } }); // Moat logs its events to Fastify's logger
// At the root it guards every route; inside an encapsulated plugin, only that plugin's routes.
await app.register(moat, { rules, trustedProxies: [] });
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
  done(null, Object.fromEntries(new URLSearchParams(body as string)));
});
app.post('/login', async (request) => `hello ${(request.body as { user?: string }).user ?? 'stranger'}\n`);
app.get('/', async () => 'hello\n');

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`moat example (fastify) listening on ${address}`);
