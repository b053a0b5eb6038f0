// POST /form: React Router's own body parsing; Moat read the form for its parameter rules and left the body whole.
export const action = async ({ request }) => Response.json(Object.fromEntries(await request.formData()));
