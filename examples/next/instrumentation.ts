// Runs once before Next serves: Moat starts telling requests' connections apart before the first
// request, so that one is judged by its client address too (Next loads proxy.ts on first use).
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') (await import('moat-waf/adapters/next-proxy')).register();
}
