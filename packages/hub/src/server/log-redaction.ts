import type { FastifyRequest } from 'fastify';

/** Path segments that carry an API key: the last segment of downsync and upsync URLs. */
const KEYED_PATH = /^(\/v2\/(?:downsync\/[^/?]+|upsync))\/([^/?]+)/;

/** A URL fit for logs: API keys in downsync/upsync paths are cut to a short, useless prefix. */
export function redactUrl(url: string): string {
  return url.replace(KEYED_PATH, (_m, base: string, key: string) => `${base}/${key.slice(0, 8)}…`);
}

/** Fastify's request serializer with the URL redacted; headers (cookies) are never logged. */
export function requestSerializer(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
}
