// The methods an app may take a request for besides the one on its request line. Method-override
// middleware turns a POST into a DELETE or PUT: Express's method-override reads `X-HTTP-Method-Override`
// (or a query parameter, or `req.body._method` through a getter), Hono's methodOverride reads a form's
// `_method` (or a header or query parameter it is told), and other stacks read `X-HTTP-Method` or
// `X-Method-Override`. A method rule judges each of these, so such a POST cannot carry a blocked method
// past it. Read only while method rules exist, and never for a GET or HEAD: method-override examines
// only POSTs unless told otherwise and Hono's never a GET, and the Web path pays 100–200 ns a header
// name asked for (http/web-request.ts), which a hello-world GET would pay on every request.

import type { MoatRequest } from './decision.js';
import { decodeParams } from '../http/request-params.js';

/** The header names method-override middleware reads by convention (lower case, as Node names headers). */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const PARAM = '_method=';

/**
 * Whether the request may name a method where the memo of quiet requests does not look (its key holds the
 * parameters, not these headers, nor a query whose parameters were not built): such a request is judged.
 */
export function mayOverrideUnkeyed(req: MoatRequest): boolean {
  if (!overridable(req.method)) return false;
  const headers = req.headers;
  if (headers !== undefined) for (const name of OVERRIDE_HEADERS) if (headers[name] !== undefined) return true;
  return req.params === undefined && req.url !== undefined && req.url.includes('?');
}

/**
 * Every method the request names in an override header (each comma-separated value of each, repeated
 * headers included) or in a `_method` parameter of its query or body, as sent (the engine upper-cases);
 * null when it names none, as nearly every request does.
 */
export function methodOverrides(req: MoatRequest): string[] | null {
  if (!overridable(req.method)) return null;
  let found: string[] | null = null;
  const headers = req.headers;
  if (headers !== undefined) {
    for (const name of OVERRIDE_HEADERS) {
      const value = headers[name];
      if (value === undefined) continue;
      for (const each of typeof value === 'string' ? [value] : value) {
        for (const token of each.split(',')) {
          const method = token.trim();
          if (method !== '') (found ??= []).push(method);
        }
      }
    }
  }
  // Parameters are the query's and the body's, decoded, when a parameter rule or attack detection had them
  // built (method rules alone read no body); without them, the query's.
  let params = req.params;
  if (params === undefined && req.url !== undefined) {
    const query = req.url.indexOf('?');
    if (query >= 0) params = decodeParams(req.url.slice(query + 1));
  }
  if (params !== undefined && params.includes(PARAM)) {
    for (let at = params.indexOf(PARAM); at >= 0; at = params.indexOf(PARAM, at + 1)) {
      // A parameter's name starts the text or follows `&`; `x_method=` is another parameter.
      if (at > 0 && params.charCodeAt(at - 1) !== 0x26 /* & */) continue;
      const start = at + PARAM.length;
      const end = params.indexOf('&', start);
      const method = params.slice(start, end < 0 ? params.length : end).trim();
      if (method !== '') (found ??= []).push(method);
    }
  }
  return found;
}

/** False for GET and HEAD in any case (the engine takes either), whose method no override middleware replaces by default. */
function overridable(method: string | undefined): boolean {
  if (method === undefined) return true;
  // Every GET pays only these two comparisons: Node hands the method over in upper case.
  if (method === 'GET' || method === 'HEAD') return false;
  const length = method.length;
  if (length !== 3 && length !== 4) return true;
  const upper = method.toUpperCase();
  return upper !== 'GET' && upper !== 'HEAD';
}
