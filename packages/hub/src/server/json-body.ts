import { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';
import { describeShapeProblem, JsonShapeScanner, type JsonShapeLimits } from './json-shape.js';

/**
 * Limits for the dashboard's JSON API and the rules import. Rules documents nest a few levels and may
 * hold long IP lists (big arrays), never objects with thousands of keys.
 */
export const API_JSON_LIMITS: JsonShapeLimits = {
  maxDepth: 32, maxObjectKeys: 10_000, maxArrayItems: 1_000_000, maxValues: 1_000_000,
};

/** A route's own bounds on its JSON body, checked on the bytes before they are parsed. */
export interface RouteJsonLimits {
  limits: JsonShapeLimits;
  /** The answer when the body has more values than `limits.maxValues` (default: `json_too_complex`). */
  tooManyValues?: (limit: number) => HttpError;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's JSON bounds, in place of API_JSON_LIMITS. */
    json?: RouteJsonLimits;
  }
}

/**
 * Replaces Fastify's JSON parser for the app: the body is read chunk by chunk (the route's bodyLimit caps
 * it), its shape checked as each chunk arrives, and only then does Fastify's own parser (with its
 * prototype-poisoning checks) build the value. Checked whole after the last byte, a 6 MB rules import
 * held the event loop 90–200 ms in one piece (the copy, then the scan) before it was refused; a chunk
 * costs about a millisecond, and a body that breaks a bound is refused as soon as it does, unread beyond.
 */
export function registerJsonParser(app: FastifyInstance, limits: JsonShapeLimits = API_JSON_LIMITS): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request, payload, done) => {
    const route = request.routeOptions.config.json;
    const bodyLimit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? DEFAULT_FASTIFY_BODY_LIMIT;
    readJsonBody(payload, new JsonShapeScanner(route?.limits ?? limits), bodyLimit, route).then(
      (bytes) => parse(request, bytes.toString('utf8'), done),
      (error: Error) => done(error, undefined),
    );
  });
}

const DEFAULT_FASTIFY_BODY_LIMIT = 1024 * 1024;

/**
 * The body's bytes once it has ended within `bodyLimit` and every limit of `scanner`; rejects at the
 * first chunk that breaks one (the rest is left unread: Node drops it once the answer is sent).
 */
function readJsonBody(payload: Readable, scanner: JsonShapeScanner, bodyLimit: number, route: RouteJsonLimits | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: Error | null) => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
      if (error === null) resolve(Buffer.concat(chunks, size));
      else {
        payload.pause();
        reject(error);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit) return stop(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      const problem = scanner.feed(chunk);
      if (problem !== null) {
        if (problem.kind === 'too_many_values' && route?.tooManyValues) return stop(route.tooManyValues(problem.limit));
        const { code, message } = describeShapeProblem(problem);
        return stop(new HttpError(400, message, code));
      }
      chunks.push(chunk);
    };
    const onEnd = () => stop(null);
    // The client went away or broke the stream (`aborted`, ECONNRESET): its fault, answered 400 as Fastify's
    // own reader answers it, and logged as a client error rather than the hub's 500.
    const onError = (error: Error) => stop(new HttpError(400, `the request body could not be read (${error.message})`, 'body_unreadable'));
    // A declared length over the limit is refused before a byte is read, as Fastify's own reader does.
    const declared = Number(payload instanceof IncomingMessage ? payload.headers['content-length'] : undefined);
    if (declared > bodyLimit) return reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    payload.on('data', onData);
    payload.once('end', onEnd);
    payload.once('error', onError);
  });
}
