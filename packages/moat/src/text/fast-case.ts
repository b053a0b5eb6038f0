// Case folding that returns the string itself when nothing would change. Request values are nearly
// always in the case the rules use already (methods upper, hosts and paths lower), and V8's
// toUpperCase/toLowerCase go through its runtime even then; the server profile showed it.

/** `text.toLowerCase()`, without the call when `text` has no upper-case or non-ASCII character. */
export function lowerCased(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0x7f) return text.toLowerCase();
  }
  return text;
}

/** `text.toUpperCase()`, without the call when `text` has no lower-case or non-ASCII character. */
export function upperCased(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || c > 0x7f) return text.toUpperCase();
  }
  return text;
}
