/**
 * The HTTP methods a `method` rule or a rate limit may name: every method Node's HTTP parser accepts
 * (anything else is answered 400 before an app sees it) and every method of the IANA HTTP Method
 * Registry (Wafris clients outside Node may see those). A fixed list rather than `http.METHODS`, so a
 * rules file means the same on every Node version; a made-up method (`FOO`) would be a rule that never
 * matches, so it is refused.
 */
export const HTTP_METHODS: ReadonlySet<string> = new Set([
  // Node's parser (llhttp)
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH',
  'PURGE', 'PUT', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK',
  'UNLOCK', 'UNSUBSCRIBE',
  // IANA registry entries Node does not parse
  'BASELINE-CONTROL', 'CHECKIN', 'LABEL', 'MKREDIRECTREF', 'MKWORKSPACE', 'ORDERPATCH', 'PRI', 'UNCHECKOUT',
  'UPDATE', 'UPDATEREDIRECTREF', 'VERSION-CONTROL',
]);
