// Bun.serve protected by Moat; the rules (and data) files are read with bun:sqlite. Run:
//   npx moat-waf compile examples/rules.json -o rules.moat && MOAT_RULES=rules.moat bun examples/bun/server.ts
import { withMoatFetch } from 'moat-waf/adapters/web';

// The one Bun API used here, typed without @types/bun (the repository type-checks examples under Node).
declare const Bun: {
  serve(options: { hostname: string; port: number; fetch: (request: Request, server: unknown) => Response | Promise<Response> }): { port: number };
};

/** The app: what Moat lets through arrives here untouched, forms included. */
async function app(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method === 'POST' && pathname === '/login') return new Response('ok');
  if (request.method === 'POST' && pathname === '/form') return Response.json(Object.fromEntries(await request.formData()));
  return new Response('hello');
}

const server = Bun.serve({
  hostname: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 3000),
  // The client address comes from Bun's server.requestIP(), never from a header unless a trusted proxy sent it.
  fetch: withMoatFetch(app, {
    rules: process.env.MOAT_RULES ?? 'rules.moat',
    data: process.env.MOAT_DATA,
    dataMode: process.env.MOAT_DATA_MODE === 'light' ? 'light' : 'memory',
  }),
});
console.log(`moat example (bun) listening on http://127.0.0.1:${server.port}`);
