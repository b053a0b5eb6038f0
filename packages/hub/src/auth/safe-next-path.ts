/** Where `next` redirects lead when the given one is refused. */
const HOME = '/';
const MAX_LENGTH = 2048;
/** Percent-decoding passes tried; more layers than this is refused rather than followed. */
const MAX_DECODE_PASSES = 4;
/**
 * Control characters, space and backslash. Browsers drop tabs and newlines from a Location and read
 * `\` as `/`, so `/%09/evil.example` or `/\evil.example` would become `//evil.example` (another site);
 * a raw newline in a header would also make Node refuse the whole response.
 */
const UNSAFE_IN_PATH = /[\u0000-\u0020\u007f\\]/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The path to redirect to after signing in (or after a dashboard form): only an absolute path on this
 * hub. Its path part (what decides the origin) is checked in every percent-decoded form a browser or a
 * proxy might see; the result is normalised by the URL parser (ASCII, percent-encoded), so it is always
 * a valid header value. Anything else gives `/`.
 */
export function safeNextPath(next: unknown): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > MAX_LENGTH || CONTROL.test(next)) return HOME;
  let decoded = pathPart(next);
  for (let pass = 0; ; pass++) {
    if (!isLocalPath(decoded)) return HOME;
    let again: string;
    try {
      again = decodeURIComponent(decoded);
    } catch {
      return HOME; // malformed escapes: no browser reading to guess at
    }
    if (again === decoded) break;
    if (pass === MAX_DECODE_PASSES) return HOME;
    decoded = again;
  }
  const base = 'http://hub.invalid';
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return HOME;
  }
  if (url.origin !== base) return HOME;
  const path = url.pathname + url.search + url.hash;
  return isLocalPath(pathPart(path)) && !CONTROL.test(path) ? path : HOME;
}

/** `/something`, but not `//host` (scheme-relative) and nothing a browser would rewrite into it. */
function isLocalPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !UNSAFE_IN_PATH.test(path);
}

/** The part before the query or fragment. */
function pathPart(text: string): string {
  const end = text.search(/[?#]/);
  return end === -1 ? text : text.slice(0, end);
}
