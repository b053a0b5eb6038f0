// A Hono app on @hono/node-server protected by Moat. Run: node --import tsx examples/hono.ts
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moat } from 'moat-waf/adapters/hono';

const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

const app = new Hono();
app.use(moat({ rules, trustedProxies: [] })); // needs @hono/node-server: it reads the client socket
app.post('/login', async (c) => c.text(`hello ${(await c.req.parseBody()).user ?? 'stranger'}\n`));
app.get('/', (c) => c.text('hello\n'));

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, ({ port }) => {
  console.log(`moat example (hono) listening on http://127.0.0.1:${port}`);
});
