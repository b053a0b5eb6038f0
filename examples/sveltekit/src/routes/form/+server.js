// POST /form: SvelteKit's own body parsing; Moat read the form for its parameter rules and left the body whole.
export const POST = async ({ request }) => Response.json(Object.fromEntries(await request.formData()));
