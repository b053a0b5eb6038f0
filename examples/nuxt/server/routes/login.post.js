// POST /login: rate-limited by the rules.
export default defineEventHandler(() => 'ok');
