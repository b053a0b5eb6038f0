// Something worth protecting: blocked by the /wp-admin rule, so reaching it means a rule was dodged.
export const dynamic = 'force-dynamic';

export function GET() {
  return new Response('wp-admin reached', { headers: { 'content-type': 'text/plain' } });
}
