// Deno.serve protected by Moat; the rules (and data) files are read with node:sqlite. Run:
//   npx moat-waf compile examples/rules.json -o rules.moat
//   MOAT_RULES=rules.moat deno run --allow-read --allow-env --allow-net --allow-ffi --config examples/deno/deno.json examples/deno/server.ts
import process from 'node:process';
import { withMoatFetch } from 'moat-waf/adapters/web';

// The one Deno API used here, typed without Deno's own types (the repository type-checks examples under Node).
declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen: (address: { port: number }) => void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): unknown;
};

/** The app: what Moat lets through arrives here untouched, forms included. */
async function app(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method === 'POST' && pathname === '/login') return new Response('ok');
  if (request.method === 'POST' && pathname === '/form') return Response.json(Object.fromEntries(await request.formData()));
  return new Response('hello');
}

// The client address comes from Deno's info.remoteAddr, never from a header unless a trusted proxy sent it.
const handler = withMoatFetch(app, {
  rules: process.env.MOAT_RULES ?? 'rules.moat',
  data: process.env.MOAT_DATA,
  dataMode: process.env.MOAT_DATA_MODE === 'light' ? 'light' : 'memory',
});
Deno.serve({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 3000),
  onListen: ({ port }) => console.log(`moat example (deno) listening on http://127.0.0.1:${port}`),
}, handler);
