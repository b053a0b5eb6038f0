// POST /form: Astro's own body parsing; Moat read the form for its parameter rules and left the body whole.
export const POST = async ({ request }: { request: Request }) => Response.json(Object.fromEntries(await request.formData()));
