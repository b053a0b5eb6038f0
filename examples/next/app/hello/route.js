// GET /hello: an ordinary page-like answer.
export const dynamic = 'force-dynamic';

export function GET() {
  return new Response('hello', { headers: { 'content-type': 'text/plain' } });
}
