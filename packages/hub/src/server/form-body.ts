import type { FastifyInstance } from 'fastify';

/** Largest form body: the rules import textarea is the big one. */
const FORM_BODY_LIMIT = 6 * 1024 * 1024;

/** Parses HTML form posts into a plain object (last value wins), for the dashboard's forms. */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) => {
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, value] of new URLSearchParams(body as string)) out[key] = value;
    done(null, out);
  });
}
