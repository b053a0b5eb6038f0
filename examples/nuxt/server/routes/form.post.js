// POST /form: Nitro's own body parsing; Moat read the form for its parameter rules and left the body whole.
export default defineEventHandler((event) => readBody(event));
