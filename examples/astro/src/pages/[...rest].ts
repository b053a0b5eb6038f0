// Any other path: the app answers, so a request Moat lets through is visible as `hello`.
export const GET = () => new Response('hello');
