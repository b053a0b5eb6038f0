import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';
import { describeShapeProblem, jsonShapeProblem, type JsonShapeLimits } from './json-shape.js';

/**
 * Limits for the dashboard's JSON API and the rules import. Rules documents nest a few levels and may
 * hold long IP lists (big arrays), never objects with thousands of keys.
 */
export const API_JSON_LIMITS: JsonShapeLimits = {
  maxDepth: 32, maxObjectKeys: 10_000, maxArrayItems: 1_000_000, maxValues: 1_000_000,
};

/** Throws the hub's 400 (`json_too_deep` / `json_too_complex`) when the text breaks a limit. */
export function assertJsonShape(bytes: Uint8Array, limits: JsonShapeLimits): void {
  const problem = jsonShapeProblem(bytes, limits);
  if (problem) {
    const { code, message } = describeShapeProblem(problem);
    throw new HttpError(400, message, code);
  }
}

/**
 * Replaces Fastify's JSON parser for the app: the body is read as bytes (the route's bodyLimit caps it),
 * its shape is checked, and only then does Fastify's own parser (with its prototype-poisoning checks)
 * build the value.
 */
export function registerJsonParser(app: FastifyInstance, limits: JsonShapeLimits = API_JSON_LIMITS): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      assertJsonShape(body as Buffer, limits);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    parse(request, (body as Buffer).toString('utf8'), done);
  });
}
