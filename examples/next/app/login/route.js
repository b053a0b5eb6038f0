// POST /login: rate-limited by the rules.
export const dynamic = 'force-dynamic';

export function POST() {
  return new Response('ok', { headers: { 'content-type': 'text/plain' } });
}
