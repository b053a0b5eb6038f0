import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';
import { JobLimit, runJobInWorker } from '../workers/module-worker.js';

/** No dashboard form has more than a few dozen fields; a body with thousands is not one of ours. */
const MAX_FORM_FIELDS = 1000;

/** Bodies from this size are decoded in a worker: only the rules import and the Data page's upload reach it. */
export const FORM_DECODED_IN_WORKER_FROM = 256 * 1024;

/** Large forms decoded in a worker: at most two at once, the rest wait their turn. */
const workerDecodes = new JobLimit(2);

/** How many forms were decoded in a worker (tests read it). */
export const formDecodes = { inWorker: 0 };

/**
 * Parses HTML form posts into a plain object (last value wins), for the dashboard's forms. The byte
 * limit is the route's (see edge-policy.ts); the field count is capped before anything is decoded. A
 * large body (a rules import of megabytes) is decoded in a worker thread, off the event loop.
 */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer;
    let fields = 1;
    // `&` found with Buffer.indexOf (memchr): no string of the body is made to count them.
    for (let at = bytes.indexOf(AMPERSAND); at !== -1; at = bytes.indexOf(AMPERSAND, at + 1)) {
      if (++fields > MAX_FORM_FIELDS) {
        done(new HttpError(400, `the form has more than ${MAX_FORM_FIELDS} fields`, 'form_too_complex'), undefined);
        return;
      }
    }
    if (bytes.length < FORM_DECODED_IN_WORKER_FROM) {
      done(null, formObject(formPairs(bytes.toString('utf8'))));
      return;
    }
    formDecodes.inWorker += 1;
    workerDecodes.run(() => runJobInWorker<{ bytes: Uint8Array }, [string, string][]>(new URL('./form-decode-job', import.meta.url), { bytes }, 'form decode'))
      .then((pairs) => done(null, formObject(pairs)), (error: Error) => done(error, undefined));
  });
}

const AMPERSAND = 0x26;

/** A form body's fields, in order, decoded as browsers encode them (`+` as space, UTF-8). */
export function formPairs(text: string): [string, string][] {
  return [...new URLSearchParams(text)];
}

function formObject(pairs: readonly [string, string][]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of pairs) out[key] = value;
  return out;
}
