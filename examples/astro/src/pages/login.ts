// POST /login: rate-limited by the rules.
export const POST = () => new Response('ok');
