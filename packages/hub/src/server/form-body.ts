import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

/** No dashboard form has more than a few dozen fields; a body with thousands is not one of ours. */
const MAX_FORM_FIELDS = 1000;

/**
 * Parses HTML form posts into a plain object (last value wins), for the dashboard's forms. The byte
 * limit is the route's (see edge-policy.ts); the field count is capped before URLSearchParams runs.
 */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    let fields = 1;
    for (let at = text.indexOf('&'); at !== -1; at = text.indexOf('&', at + 1)) {
      if (++fields > MAX_FORM_FIELDS) {
        done(new HttpError(400, `the form has more than ${MAX_FORM_FIELDS} fields`, 'form_too_complex'), undefined);
        return;
      }
    }
    const out: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, value] of new URLSearchParams(text)) out[key] = value;
    done(null, out);
  });
}
