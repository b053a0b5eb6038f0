// A Koa app protected by Moat. Run: node --import tsx examples/koa.ts
import Koa from 'koa';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moat } from 'moat-waf/adapters/koa';

const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

const app = new Koa();
app.use(moat({ rules, trustedProxies: [] })); // first in the chain
app.use((ctx) => { ctx.body = `hello from ${ctx.path}\n`; });

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`moat example (koa) listening on http://127.0.0.1:${port}`);
});
