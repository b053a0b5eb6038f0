import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { DatabaseUnavailableError } from '../store/postgres/database-unavailable.js';
import { HttpError } from './http-error.js';
import { redactUrl } from './log-redaction.js';

interface ErrorBody {
  error: string;
  message: string;
  issues?: { path: string; message: string }[];
}

/** Maps an error to a status and a body that reveals nothing internal. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) return { status: error.statusCode, body: { error: error.code, message: error.message } };
  if (error instanceof DatabaseUnavailableError) {
    return { status: 503, body: { error: 'database_unavailable', message: 'the database is unavailable; retry later' } };
  }
  if (error instanceof ZodError) {
    const issues = error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message }));
    return { status: 400, body: { error: 'invalid_request', message: 'the request did not pass validation', issues } };
  }
  const e = error as Partial<FastifyError> & { code?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'ERR_BUFFER_TOO_LARGE':
      return { status: 413, body: { error: 'body_too_large', message: 'the request body is too large' } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { error: 'unsupported_media_type', message: 'unsupported Content-Type' } };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'malformed_body', message: 'the body is not valid JSON' } };
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return { status: 400, body: { error: 'malformed_body', message: 'the body is not valid gzip' } };
    default:
      break;
  }
  if (error instanceof SyntaxError) return { status: 400, body: { error: 'malformed_body', message: 'the body is not valid JSON' } };
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
  if (status < 500) return { status, body: { error: 'bad_request', message: e.message ?? 'bad request' } };
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = describeError(error);
  // A database outage is logged by the store (once, then at most once a minute), not once per request.
  if (status >= 500 && !(error instanceof DatabaseUnavailableError)) {
    // Which route failed is what an operator needs; the URL is redacted (it may carry an API key).
    request.log.error({ err: error, method: request.method, url: redactUrl(request.url), status }, 'request failed');
  }
  void reply.code(status).type('application/json; charset=utf-8').send(body);
}
