// Hono on Deno.serve, protected by Moat's Hono adapter; the rules (and data) files are read with node:sqlite. Run:
//   npx moat-waf compile examples/rules.json -o rules.moat
//   MOAT_RULES=rules.moat deno run --allow-read --allow-env --allow-net --allow-sys --config examples/deno/deno.json examples/deno/hono.ts
// Without @hono/node-server there is no Node request: the adapter judges the Web request (c.req.raw) with
// the client address Deno passes to app.fetch as its env (info.remoteAddr), never a header unless a
// trusted proxy sent it.
import process from 'node:process';
import { Hono } from 'hono';
import { moat } from 'moat-waf/adapters/hono';

// The one Deno API used here, typed without Deno's own types (the repository type-checks examples under Node).
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen: (address: { port: number }) => void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): unknown;
};

const app = new Hono();
app.use(moat({
  rules: process.env.MOAT_RULES ?? 'rules.moat',
  data: process.env.MOAT_DATA,
  dataMode: process.env.MOAT_DATA_MODE === 'light' ? 'light' : 'memory',
}));
// What Moat lets through arrives here untouched, forms included (read by Hono's own parser).
app.post('/login', (c) => c.text('ok'));
app.post('/form', async (c) => c.json(await c.req.parseBody()));
app.get('*', (c) => c.text('hello'));

Deno.serve({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 3000),
  onListen: ({ port }) => console.log(`moat example (deno, hono) listening on http://127.0.0.1:${port}`),
}, app.fetch);
