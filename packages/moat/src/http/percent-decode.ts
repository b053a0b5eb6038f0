// Percent-decoding that never throws. decodeURIComponent throws on "%zz" and on invalid UTF-8, and an
// attacker chooses both; here malformed escapes stay literal and invalid UTF-8 becomes U+FFFD, so a
// rule still sees every byte it could match.

const PERCENT = 0x25;
const PLUS = 0x2b;

// Reused byte buffer: decoding is synchronous, so no two calls overlap. Grown on demand, but a huge
// one-off input gets its own buffer so the scratch does not pin megabytes for the life of the process.
const SCRATCH_MAX = 64 * 1024;
let scratch = Buffer.allocUnsafe(2048);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  return -1;
}

/** True when `text` holds a byte that decoding would change. */
export function needsDecoding(text: string, plusAsSpace: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT || c > 0x7f || (plusAsSpace && c === PLUS)) return true;
  }
  return false;
}

/**
 * Decodes %XX escapes (and `+` as space when `plusAsSpace`, as in form encoding) and reads the bytes as
 * UTF-8. Characters of `text` up to U+00FF are taken as bytes, because Node hands over raw request
 * bytes as latin1 text; anything above is UTF-8 encoded. Returns `text` itself when nothing changes.
 */
export function percentDecode(text: string, plusAsSpace = false): string {
  if (!needsDecoding(text, plusAsSpace)) return text;
  // Worst case three bytes per UTF-16 unit.
  const worst = text.length * 3;
  let out = scratch;
  if (worst > out.length) {
    if (worst <= SCRATCH_MAX) out = scratch = Buffer.allocUnsafe(worst);
    else out = Buffer.allocUnsafe(worst);
  }
  let n = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT && i + 2 < length) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hi < 0 ? -1 : hexValue(text.charCodeAt(i + 2));
      if (lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
      out[n++] = c;
    } else if (c === PLUS && plusAsSpace) {
      out[n++] = 0x20;
    } else if (c < 0x100) {
      out[n++] = c;
    } else {
      // Not from an HTTP parser (those give latin1); rare, so clarity over speed.
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      n += out.write(String.fromCodePoint(cp), n, 'utf8');
    }
  }
  return out.toString('utf8', 0, n);
}
