// Routes that show what reaches Next behind Moat. No catch-all at the root: with one, paths the proxy
// matcher excludes (/_next/static/…, /favicon.ico) would reach it unjudged (see docs/frameworks.md).
export const dynamic = 'force-dynamic';

export function GET() {
  return new Response('hello', { headers: { 'content-type': 'text/plain' } });
}
