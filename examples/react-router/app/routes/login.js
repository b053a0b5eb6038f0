// POST /login: rate-limited by the rules.
export const action = () => new Response('ok');
