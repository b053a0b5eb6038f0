// The request as Moat judges and reports it, built from a Node IncomingMessage without touching its
// body. One object per request; the parts nobody needs (parameters when no rule reads them) are not
// computed, and targets and hosts seen a moment ago are not worked out again.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { MoatRequest } from '../engine/decision.js';
import { RecentValues } from '../text/recent-values.js';
import type { ClientIpResolver, IpSource } from './client-address.js';
import { decodeParams } from './request-params.js';
import { normalizePath, pathForms } from './request-path.js';
import { connectTargetHosts, isOddWebUrl, normalizeHost, pathStartOf, pathUpToQuery, splitTarget, webUrlReadings } from './request-target.js';

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
  /** Hosts the app may read from an odd Web url (webTarget), normalised; undefined for every other target. */
  urlHosts: readonly string[] | undefined;
}

function normalizeTarget(url: string): NormalizedTarget {
  const target = splitTarget(url);
  const path = normalizePath(target.path);
  let forms = pathForms(target.path, path);
  // A `#` (never sent by browsers): Hono releases before 2026 routed on the path up to `?`, `#` included,
  // on every runtime, @hono/node-server too, so `/x#/../admin` is judged as `/admin` as well.
  if (url.indexOf('#') >= 0) forms = withPathUpToQuery(url, path, forms);
  return {
    host: target.authority === null ? null : normalizeHost(target.authority),
    path,
    pathForms: forms,
    query: target.query,
    params: null,
    urlHosts: undefined,
  };
}

function withPathUpToQuery(url: string, path: string, forms: readonly string[] | undefined): readonly string[] | undefined {
  const raw = pathUpToQuery(url, pathStartOf(url));
  const longer = normalizePath(raw);
  const all = forms === undefined ? [] : [...forms];
  for (const form of [longer, ...(pathForms(raw, longer) ?? [])]) if (form !== path && !all.includes(form)) all.push(form);
  return all.length > 0 ? all : undefined;
}

/**
 * A Web Request's url split and normalised like a Node target and, when the runtime built it from a
 * Host that is not one (isOddWebUrl), with the app's other readings of it added as path and host forms,
 * so path rules, host rules and rate limits judge them all. A clean url costs one scan of its authority.
 */
function webTarget(url: string): NormalizedTarget {
  const target = normalizeTarget(url);
  if (!isOddWebUrl(url)) return target;
  const readings = webUrlReadings(url);
  const forms = target.pathForms === undefined ? [] : [...target.pathForms];
  const add = (form: string) => {
    if (form !== target.path && !forms.includes(form)) forms.push(form);
  };
  for (const raw of readings.paths) {
    const path = normalizePath(raw);
    add(path);
    for (const form of pathForms(raw, path) ?? []) add(form);
  }
  const hosts: string[] = [];
  for (const raw of readings.hosts) {
    const host = normalizeHost(raw);
    if (host !== undefined && host !== target.host && !hosts.includes(host)) hosts.push(host);
  }
  return {
    ...target,
    pathForms: forms.length > 0 ? forms : undefined,
    urlHosts: hosts.length > 0 ? hosts : undefined,
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
  /** Web urls (absolute, Host included) apart from Node targets: a relative one reads differently (webTarget). */
  private readonly webTargets = new RecentValues<NormalizedTarget>(TARGET_SLOTS, TARGET_MAX_LENGTH);
  private readonly hosts = new RecentValues<string>(HOST_SLOTS, HOST_MAX_LENGTH);
  /** The last raw host normalised, and its form ('' for none): host() answers it again without the memo. */
  private lastHostRaw = '';
  private lastHost = '';
  /** X-Forwarded-Host values seen a moment ago, with the Host they came with and the forms they made. */
  private readonly forwarded = new RecentValues<{ host: string | undefined; forms: readonly string[] | undefined }>(HOST_SLOTS, HOST_MAX_LENGTH);

  constructor(private readonly clientIp: ClientIpResolver) {}

  /** `withParams` false skips decoding the query; `url` defaults to `req.url`, `headers` to `req.headers`. */
  normalize(req: IncomingMessage, withParams: boolean, url?: string, headers: IncomingHttpHeaders = req.headers): MoatHttpRequest {
    return this.normalizeNodeParts(req.method ?? 'GET', url ?? req.url ?? '/', headers, req.socket?.remoteAddress, withParams);
  }

  /** normalizeParts() for a Node request's parts, whose headers are Node's own object. */
  normalizeNodeParts(method: string, url: string, headers: IncomingHttpHeaders, peer: string | undefined, withParams: boolean): MoatHttpRequest {
    const request = this.normalizeParts(method, url, headers, peer, withParams);
    // HTTP/2 names the host in `:authority`. Node's compatibility API adds no Host header for it, and a
    // client may send both, differing: Fastify's request.hostname and Koa's ctx.host read `:authority`
    // first, Express and most code Host. Both are judged. (HTTP/1 cannot carry the name: a missed lookup.)
    const authority = headers[':authority'];
    if (method === 'CONNECT') this.addTunnelTarget(request, url, authority);
    else if (typeof authority === 'string') this.addAuthority(request, authority);
    // Express's req.hostname, Fastify's request.hostname and Koa's ctx.hostname read X-Forwarded-Host once
    // the app trusts a proxy, and a proxy that does not set it passes the client's on: host rules judge
    // every host it names. Node's front door only (a property read there; a Web Request's Headers.get() costs
    // 100–200 ns a name, and Hono, Bun and Deno take the host from the URL).
    const forwarded = headers['x-forwarded-host'];
    if (forwarded !== undefined) request.hostForms = this.forwardedHostForms(request, forwarded);
    return request;
  }

  /**
   * A tunnel's target (`CONNECT db.internal:5432`; on HTTP/2 its `:authority`) is what a proxying app
   * connects to, whatever Host it came with: host rules judge every reading of it too (connectTargetHosts).
   * Only 'connect' listeners see such a request, so this is off the common path.
   */
  private addTunnelTarget(request: MoatHttpRequest, url: string, authority: string | string[] | undefined): void {
    const targets = typeof authority === 'string' ? [authority] : [];
    if (url.charCodeAt(0) !== 0x2f /* / */) targets.push(url);
    for (const target of targets) for (const host of connectTargetHosts(target)) this.addAuthority(request, host);
  }

  /** `authority` as the request's host when it has none, else as one more host form when it differs. */
  private addAuthority(request: MoatHttpRequest, authority: string): void {
    const host = this.host(authority);
    if (host === undefined || host === request.host) return;
    if (request.host === undefined) request.host = host;
    else if (request.hostForms?.includes(host) !== true) request.hostForms = [...(request.hostForms ?? []), host];
  }

  /**
   * withForwardedHosts(), the same array again for the same Host and header: a proxy that sets the header
   * on every request would otherwise make each request's forms a new array, which the engine's memo of
   * quiet requests (compared by identity) would never find again.
   */
  private forwardedHostForms(request: MoatHttpRequest, value: string | string[]): readonly string[] | undefined {
    if (typeof value !== 'string' || request.hostForms !== undefined) return this.withForwardedHosts(request, value);
    const seen = this.forwarded.get(value);
    if (seen !== undefined && seen.host === request.host) return seen.forms;
    const forms = this.withForwardedHosts(request, value);
    this.forwarded.set(value, { host: request.host, forms });
    return forms;
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
    return this.request(target, method, url, headers, peer, withParams);
  }

  /** normalizeParts() for a Web Request's url, which the runtime built from the Host header (webTarget). */
  normalizeWebParts(method: string, url: string, headers: IncomingHttpHeaders, peer: string | undefined, withParams: boolean): MoatHttpRequest {
    let target = this.webTargets.get(url);
    if (target === undefined) {
      target = webTarget(url);
      this.webTargets.set(url, target);
    }
    return this.request(target, method, url, headers, peer, withParams);
  }

  private request(target: NormalizedTarget, method: string, url: string, headers: IncomingHttpHeaders, peer: string | undefined,
    withParams: boolean): MoatHttpRequest {
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
    if (target.urlHosts !== undefined) hostForms = withUrlHosts(hostForms, target.urlHosts, host);
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

  /** The request's host forms plus each comma-separated host of an X-Forwarded-Host value that is new. */
  private withForwardedHosts(request: MoatHttpRequest, value: string | string[]): readonly string[] | undefined {
    let forms = request.hostForms;
    for (const each of typeof value === 'string' ? [value] : value) {
      for (const raw of each.split(',')) {
        const host = this.host(raw.trim());
        if (host === undefined || host === request.host || forms?.includes(host) === true) continue;
        forms = forms === undefined ? [host] : [...forms, host];
      }
    }
    return forms;
  }

  private host(raw: string | undefined): string | undefined {
    if (raw === undefined || raw === '') return undefined;
    // A site's requests nearly all name one host: the last one is compared before the memo is hashed.
    let host: string | undefined;
    if (raw === this.lastHostRaw) host = this.lastHost;
    else {
      host = this.hosts.get(raw);
      if (host === undefined) {
        host = normalizeHost(raw) ?? '';
        this.hosts.set(raw, host);
      }
      this.lastHostRaw = raw;
      this.lastHost = host;
    }
    return host === '' ? undefined : host;
  }
}

/** `forms` plus the hosts an odd Web url names that are neither `host` nor in `forms` (rare: allocates). */
function withUrlHosts(forms: readonly string[] | undefined, urlHosts: readonly string[], host: string | undefined): readonly string[] {
  const all = forms === undefined ? [] : [...forms];
  for (const each of urlHosts) if (each !== host && !all.includes(each)) all.push(each);
  return all.length > 0 ? all : forms ?? all;
}
