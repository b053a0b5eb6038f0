// Hono on Bun.serve, protected by Moat's Hono adapter; the rules (and data) files are read with bun:sqlite. Run:
//   npx moat-waf compile examples/rules.json -o rules.moat && MOAT_RULES=rules.moat bun examples/bun/hono.ts
// Without @hono/node-server there is no Node request: the adapter judges the Web request (c.req.raw) with
// the client address Bun passes to app.fetch as its env (server.requestIP()), never a header unless a
// trusted proxy sent it.
import { Hono } from 'hono';
import { moat } from 'moat-waf/adapters/hono';

// The one Bun API used here, typed without @types/bun (the repository type-checks examples under Node).
declare const Bun: {
  serve(options: { hostname: string; port: number; fetch: (request: Request, server: unknown) => Response | Promise<Response> }): { port: number };
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

const server = Bun.serve({ hostname: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3000), fetch: app.fetch });
console.log(`moat example (bun, hono) listening on http://127.0.0.1:${server.port}`);
