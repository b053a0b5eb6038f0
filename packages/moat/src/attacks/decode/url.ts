/**
 * One round of percent-decoding the way lenient servers do it: `%XX` bytes as UTF-8, `%uXXXX` (IIS),
 * overlong UTF-8 (`%c0%ae` is `.`: old decoders accepted it, so attackers still send it), `+` left
 * alone (the framework already turned form `+` into spaces). Malformed escapes stay as they are —
 * decoding must never throw on hostile input.
 */
import { addWork } from '../work-counter.js';

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function byteAt(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  if (s.charCodeAt(i) !== 0x25) return -1;
  const h = hex(s.charCodeAt(i + 1));
  const l = hex(s.charCodeAt(i + 2));
  return h < 0 || l < 0 ? -1 : (h << 4) | l;
}

/** `s` with one layer of percent-encoding removed; `s` itself when it has no valid escape. */
export function percentDecodeOnce(s: string): string {
  const n = s.length;
  addWork(n);
  let out = '';
  let last = 0;
  // Jump from `%` to `%` with indexOf (native) instead of visiting every character.
  for (let i = s.indexOf('%'); i >= 0 && i < n; i = s.indexOf('%', i + 1)) {
    // %uXXXX
    if ((s.charCodeAt(i + 1) | 0x20) === 0x75 && i + 5 < n) {
      const a = hex(s.charCodeAt(i + 2)), b = hex(s.charCodeAt(i + 3)), c = hex(s.charCodeAt(i + 4)), d = hex(s.charCodeAt(i + 5));
      if (a >= 0 && b >= 0 && c >= 0 && d >= 0) {
        out += s.slice(last, i) + String.fromCharCode((a << 12) | (b << 8) | (c << 4) | d);
        last = i + 6;
        i += 5;
        continue;
      }
    }
    const b0 = byteAt(s, i);
    if (b0 < 0) continue;
    let code = b0;
    let len = 3;
    if (b0 >= 0xc0) {
      // A UTF-8 lead byte: gather continuation bytes, accepting overlong forms on purpose.
      const extra = b0 >= 0xf0 ? 3 : b0 >= 0xe0 ? 2 : 1;
      let cp = b0 & (0x3f >> extra);
      let ok = true;
      for (let k = 1; k <= extra; k++) {
        const b = byteAt(s, i + 3 * k);
        if (b < 0x80 || b > 0xbf) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (b & 0x3f);
      }
      if (ok) {
        code = cp;
        len = 3 * (extra + 1);
      } else code = 0xfffd;
    } else if (b0 >= 0x80) code = 0xfffd;
    out += s.slice(last, i) + (code > 0xffff ? String.fromCodePoint(code) : String.fromCharCode(code));
    last = i + len;
    i += len - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}
