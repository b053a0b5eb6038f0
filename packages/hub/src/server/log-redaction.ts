import type { FastifyRequest } from 'fastify';

/** Path segments that carry an API key: the last segment of downsync and upsync URLs. */
const KEYED_PATH = /^(\/v2\/(?:downsync\/[^/?]+|upsync))\/([^/?]+)/;

/**
 * Secrets that may sit inside free text (an error message, a stack): API keys (`moat_…`, see
 * auth/secrets.ts) and the password of a database URL.
 */
const API_KEY_IN_TEXT = /\bmoat_[A-Za-z0-9_-]{4,}/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;

/** Paths pino blanks out, should a header object ever reach a log line. */
export const LOG_REDACT_PATHS = ['req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization'];

/** A URL fit for logs: API keys in downsync/upsync paths are cut to a short, useless prefix. */
export function redactUrl(url: string): string {
  return redactText(url.replace(KEYED_PATH, (_m, base: string, key: string) => `${base}/${key.slice(0, 8)}…`));
}

/** Free text fit for logs: API keys cut to their prefix, passwords of URLs removed. */
export function redactText(text: string): string {
  return text
    .replace(API_KEY_IN_TEXT, (key) => `${key.slice(0, 8)}…`)
    .replace(URL_PASSWORD, '$1:…@');
}

/** Fastify's request serializer with the URL redacted; headers (cookies) are never logged. */
export function requestSerializer(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
}

/**
 * The error serializer: type, code, message and stack, each redacted (a driver's message may quote a
 * URL or a statement with a key in it), and the cause one level deep. Nothing else of the error object,
 * which may carry a request or a connection config.
 */
export function errorSerializer(error: unknown): { type: string; message: string; stack: string; [key: string]: unknown } {
  if (!(error instanceof Error)) return { type: typeof error, message: redactText(String(error)), stack: '' };
  const e = error as Error & { code?: unknown; statusCode?: unknown };
  const out: { type: string; message: string; stack: string; [key: string]: unknown } = {
    type: e.name, message: redactText(e.message), stack: redactText(e.stack ?? ''),
  };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (typeof e.statusCode === 'number') out.statusCode = e.statusCode;
  if (e.cause instanceof Error) out.cause = { type: e.cause.name, message: redactText(e.cause.message) };
  return out;
}
