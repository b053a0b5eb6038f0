import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';

const siteParams = z.object({ siteId: z.coerce.number().int().positive().max(2 ** 31) });

/** The site id of a `/…/:siteId/…` route; 404 for anything that is not a positive integer. */
export function siteIdOf(request: FastifyRequest): number {
  const parsed = siteParams.safeParse(request.params);
  if (!parsed.success) throw new HttpError(404, 'no such site', 'not_found');
  return parsed.data.siteId;
}

/** A route parameter as a bounded string. */
export function stringParam(request: FastifyRequest, name: string, max = 200): string {
  const value = (request.params as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new HttpError(404, `bad ${name}`, 'not_found');
  return value;
}

export function intParam(request: FastifyRequest, name: string): number {
  const value = Number((request.params as Record<string, unknown>)[name]);
  if (!Number.isInteger(value) || value <= 0 || value > 2 ** 31) throw new HttpError(404, `bad ${name}`, 'not_found');
  return value;
}
