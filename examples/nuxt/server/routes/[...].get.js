// Any other GET: the app answers, so a request Moat lets through is visible as `hello`. (GET only: Nuxt's
// page renderer holds the catch-all for every method, and a route for one method wins over it.)
export default defineEventHandler(() => 'hello');
