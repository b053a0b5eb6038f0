// GET /catalogue: calls the app's own API in-process ($fetch through Nitro's local fetch), as server
// rendering does; Moat gives that call the decision of the client request it runs for.
export default defineEventHandler(async () => ({ products: [await $fetch('/api/products/42')] }));
