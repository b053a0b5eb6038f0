// GET /api/products/:id: a product, as an API route would answer.
export default defineEventHandler((event) => ({ id: getRouterParam(event, 'id'), name: 'Widget' }));
