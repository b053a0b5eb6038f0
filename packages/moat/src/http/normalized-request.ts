// The request as Moat judges and reports it, built from a Node IncomingMessage without touching its
// body. One object per request; the parts nobody needs (parameters when no rule reads them) are not
// computed.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { MoatRequest } from '../engine/decision.js';
import type { ClientIpResolver, IpSource } from './client-ip.js';
import { normalizeHost } from './request-host.js';
import { decodeParams } from './request-params.js';
import { normalizePath } from './request-path.js';
import { splitTarget } from './request-target.js';

export interface MoatHttpRequest extends MoatRequest {
  ip: string;
  /** Where `ip` came from: the socket, or the forwarding header of a trusted proxy. */
  ipSource: IpSource;
  /** As sent (the engine compares case-insensitively). */
  method: string;
  /** Lower case, without port. */
  host: string | undefined;
  /** Percent-decoded, dot segments and duplicate slashes resolved. */
  path: string;
  /** Decoded query (and form or JSON body) parameters, `a=1&b=2`; undefined when none or not needed. */
  params: string | undefined;
  userAgent: string | undefined;
  /** The request's headers, as Node parsed them (not copied). */
  headers: IncomingHttpHeaders;
  /** The raw request target: path and query, still encoded. */
  url: string;
}

/**
 * Builds the normalised request; `withParams` false skips decoding the query; `url` defaults to
 * `req.url`. Never throws on input.
 */
export function normalizeRequest(
  req: IncomingMessage, clientIp: ClientIpResolver, withParams: boolean, url: string = req.url ?? '/',
): MoatHttpRequest {
  const target = splitTarget(url);
  const headers = req.headers;
  const request: MoatHttpRequest = {
    ip: '',
    ipSource: 'socket',
    method: req.method ?? 'GET',
    host: normalizeHost(target.authority ?? headers.host),
    path: normalizePath(target.path),
    params: withParams && target.query !== '' ? decodeParams(target.query) : undefined,
    userAgent: headers['user-agent'],
    headers,
    url,
  };
  clientIp.resolve(req.socket?.remoteAddress, headers, request);
  return request;
}
