// POST /form: Next's own body parsing; Moat read the form for its parameter rules and left the body whole.
export const dynamic = 'force-dynamic';

export async function POST(request) {
  return Response.json(Object.fromEntries(await request.formData()));
}
