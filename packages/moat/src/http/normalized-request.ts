// The request as Moat judges and reports it, built from a Node IncomingMessage without touching its
// body. One object per request; the parts nobody needs (parameters when no rule reads them) are not
// computed, and targets and hosts seen a moment ago are not worked out again.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { MoatRequest } from '../engine/decision.js';
import { RecentValues } from '../text/recent-values.js';
import type { ClientIpResolver, IpSource } from './client-address.js';
import { decodeParams } from './request-params.js';
import { normalizePath, pathForms } from './request-path.js';
import { normalizeHost, splitTarget } from './request-target.js';

export interface MoatHttpRequest extends MoatRequest {
  ip: string;
  /** Where `ip` came from: the socket, or the forwarding header of a trusted proxy. */
  ipSource: IpSource;
  /** As sent (the engine compares case-insensitively). */
  method: string;
  /** Lower case, without port. */
  host: string | undefined;
  /** With an absolute-form target, the Host header when it names another host; else undefined. */
  hostForms: readonly string[] | undefined;
  /** Percent-decoded, dot segments and duplicate slashes resolved. */
  path: string;
  /** Other readings of an unusual path (see pathForms() in request-path); undefined for a plain one. */
  pathForms: readonly string[] | undefined;
  /** Decoded query (and form or JSON body) parameters, `a=1&b=2`; undefined when none or not needed. */
  params: string | undefined;
  userAgent: string | undefined;
  /** The request's headers, as Node parsed them (not copied). */
  headers: IncomingHttpHeaders;
  /** The raw request target: path and query, still encoded. */
  url: string;
}

/** A request target, split and normalised. */
interface NormalizedTarget {
  /** The normalised host of an absolute-form target (`GET http://host/x`), or null when it had none. */
  host: string | undefined | null;
  path: string;
  /** Shared by every request with this target: never mutated. */
  pathForms: readonly string[] | undefined;
  query: string;
  /** The decoded query; null until a request needed it. */
  params: string | undefined | null;
}

function normalizeTarget(url: string): NormalizedTarget {
  const target = splitTarget(url);
  const path = normalizePath(target.path);
  return {
    host: target.authority === null ? null : normalizeHost(target.authority),
    path,
    pathForms: pathForms(target.path, path),
    query: target.query,
    params: null,
  };
}

// Most traffic repeats a few targets and one or two hosts. Remembering the last ones per slot skips
// splitting, decoding and case folding for them, and hands the engine the same path string as last
// time, so its own memos then match by identity. Sizes bound the memory to a few hundred kilobytes.
const TARGET_SLOTS = 256;
const TARGET_MAX_LENGTH = 1024;
const HOST_SLOTS = 32;
const HOST_MAX_LENGTH = 256;

/** Turns Node requests into MoatHttpRequests. One per firewall; never throws on input. */
export class RequestNormalizer {
  private readonly targets = new RecentValues<NormalizedTarget>(TARGET_SLOTS, TARGET_MAX_LENGTH);
  private readonly hosts = new RecentValues<string>(HOST_SLOTS, HOST_MAX_LENGTH);

  constructor(private readonly clientIp: ClientIpResolver) {}

  /** `withParams` false skips decoding the query; `url` defaults to `req.url`, `headers` to `req.headers`. */
  normalize(req: IncomingMessage, withParams: boolean, url?: string, headers: IncomingHttpHeaders = req.headers): MoatHttpRequest {
    return this.normalizeParts(req.method ?? 'GET', url ?? req.url ?? '/', headers, req.socket?.remoteAddress, withParams);
  }

  /**
   * The same from plain parts, for front doors without an IncomingMessage (a Web `Request`). `peer` is
   * the socket's address; undefined leaves `ip` empty.
   */
  normalizeParts(method: string, url: string, headers: IncomingHttpHeaders, peer: string | undefined, withParams: boolean): MoatHttpRequest {
    let target = this.targets.get(url);
    if (target === undefined) {
      target = normalizeTarget(url);
      this.targets.set(url, target);
    }
    let params: string | undefined;
    if (withParams && target.query !== '') params = target.params ??= decodeParams(target.query);
    let host: string | undefined;
    let hostForms: readonly string[] | undefined;
    if (target.host === null) host = this.host(headers.host);
    else {
      // Absolute form: Node routes on the target, but frameworks read the Host header (req.hostname,
      // request.host), so both are judged and neither can be chosen to dodge a host rule.
      host = target.host;
      const header = this.host(headers.host);
      if (header !== undefined && header !== host) {
        if (host === undefined) host = header;
        else hostForms = [header];
      }
    }
    const request: MoatHttpRequest = {
      ip: '',
      ipSource: 'socket',
      method,
      host,
      hostForms,
      path: target.path,
      pathForms: target.pathForms,
      params,
      userAgent: headers['user-agent'],
      headers,
      url,
    };
    this.clientIp.resolve(peer, headers, request);
    return request;
  }

  private host(raw: string | undefined): string | undefined {
    if (raw === undefined || raw === '') return undefined;
    let host = this.hosts.get(raw);
    if (host === undefined) {
      host = normalizeHost(raw) ?? '';
      this.hosts.set(raw, host);
    }
    return host === '' ? undefined : host;
  }
}
