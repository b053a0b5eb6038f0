// An Express app protected by Moat. Run: node --import tsx examples/express.ts
import express from 'express';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRulesDocument, writeRulesFile } from 'moat-waf';
import { moat } from 'moat-waf/adapters/express';

const rules = join(mkdtempSync(join(tmpdir(), 'moat-example-')), 'rules.moat');
writeRulesFile(parseRulesDocument(readFileSync(new URL('rules.json', import.meta.url), 'utf8'), 'rules.json'), rules);

const app = express();
app.use(moat({ rules, trustedProxies: [] })); // first, before body parsers and routes
app.use(express.urlencoded({ extended: false })); // still gets the whole body after Moat read the form
app.post('/login', (req, res) => { res.send(`hello ${req.body.user ?? 'stranger'}\n`); });
app.get('/', (_req, res) => { res.send('hello\n'); });

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  console.log(`moat example (express) listening on http://127.0.0.1:${port}`);
});
