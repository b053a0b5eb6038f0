// One route handler for every path: enough to show what reaches Next behind Moat.
export const dynamic = 'force-dynamic';

export function GET() {
  return new Response('hello', { headers: { 'content-type': 'text/plain' } });
}

export async function POST(request) {
  const { pathname } = new URL(request.url);
  if (pathname === '/login') return new Response('ok', { headers: { 'content-type': 'text/plain' } });
  // Next's own body parsing: Moat read the form for its parameter rules and left the body whole.
  if (pathname === '/form') return Response.json(Object.fromEntries(await request.formData()));
  return new Response('hello', { headers: { 'content-type': 'text/plain' } });
}
