/**
 * A form field's raw text decoded as the app's body parser does (`+` as a space, `%XX` bytes read as
 * UTF-8), exactly as percentDecode(raw, true) does it (a property test compares them), only faster on
 * long fields: that per-character loop was the largest single cost of a 64 KiB form body (profile,
 * bench/attacks-bench.ts). A long field of ASCII text, which is what browsers send, is copied into a byte
 * buffer by one native call and decoded there in place:
 * - `+` becomes a space four bytes at a time (SWAR on 32-bit words): prose has a `+` every few
 *   characters, so a per-match native `replaceAll` was slower than the loop it replaced;
 * - escapes are found with native searches and the text between them moved with `copyWithin`; a field
 *   dense with escapes (non-Latin text, where every character is two or three of them; code and URLs)
 *   continues in a byte loop from where it is, which there costs less than a native call per escape, and
 *   a field whose first escapes are already close together starts in it, `+` included (one pass).
 * Anything else (short values, raw UTF-8 or latin1 bytes in the body) goes to percentDecode unchanged.
 * The decoder also tells whether the text it returned is all ASCII, which it knows for free: the
 * detectors then skip their own search for non-ASCII characters (a regex over every character).
 */
import { percentDecode } from '../../http/percent-decode.js';

/** Below this length the plain loop costs no more than the buffer copy. */
const BYTES_FROM = 256;

/** Reused (decoding is synchronous); a larger field gets its own buffer so this one never pins megabytes. */
const SCRATCH_BYTES = 64 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
const scratchWords = new Int32Array(scratch.buffer, 0, SCRATCH_BYTES >>> 2);

/** From this many escapes in one field the byte loop takes over (one native search and one move per escape cost more there). */
const SPARSE_ESCAPES = 48;

/** Escapes this close together from the first one on (DENSE_PROBE of them within DENSE_PROBE × DENSE_GAP characters): byte loop from the start. */
const DENSE_PROBE = 8;
const DENSE_GAP = 64;

function denseFrom(raw: string, first: number): boolean {
  let at = first;
  for (let k = 0; k < DENSE_PROBE; k++) {
    at = raw.indexOf('%', at + 1);
    if (at < 0) return false;
  }
  return at - first <= DENSE_PROBE * DENSE_GAP;
}

/** Each byte's hex digit value, or -1: one load instead of two range tests per digit in the byte loop. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c < 256; c++) {
  const lower = c | 0x20;
  if (c >= 0x30 && c <= 0x39) HEX_VALUE[c] = c - 0x30;
  else if (lower >= 0x61 && lower <= 0x66) HEX_VALUE[c] = lower - 0x57;
}

export class FormValueDecoder {
  /** Whether the text the last decode() returned is known to be all ASCII (false: unknown). */
  ascii = false;

  decode(raw: string): string {
    const n = raw.length;
    // A character of two or more UTF-8 bytes makes byteLength exceed length: the text is not all ASCII.
    if (n < BYTES_FROM || Buffer.byteLength(raw, 'utf8') !== n) {
      this.ascii = false;
      return percentDecode(raw, true);
    }
    const value = decodeAscii(raw, n);
    this.ascii = decodedBytes < 0x80;
    return value;
  }
}

/** The bytes the last decodeAscii() produced by escapes, OR-ed: below 0x80 when all were ASCII. */
let decodedBytes = 0;

/** decodeFormValue for ASCII `raw` of length `n`. */
function decodeAscii(raw: string, n: number): string {
  decodedBytes = 0;
  const hasPlus = raw.includes('+');
  let r = raw.indexOf('%');
  if (!hasPlus && r < 0) return raw;
  let bytes = scratch;
  let words = scratchWords;
  if (n > SCRATCH_BYTES) {
    bytes = Buffer.allocUnsafeSlow(n);
    words = new Int32Array(bytes.buffer, 0, n >>> 2);
  }
  bytes.write(raw, 0, n, 'ascii');
  if (r >= 0 && denseFrom(raw, r)) {
    // One pass does both: on text this dense in escapes the word pass's branch per `+` cost a quarter of the decode.
    // A plain Uint8Array view: element access on a Buffer measured slower in this loop.
    const w = decodeEscapes(new Uint8Array(bytes.buffer, bytes.byteOffset, n), 0, 0, n);
    return bytes.toString(decodedBytes < 0x80 ? 'latin1' : 'utf8', 0, w);
  }
  if (hasPlus) plusesToSpaces(bytes, words, n);
  if (r < 0) return bytes.toString('latin1', 0, n);
  // Bytes before the first escape stay where they are.
  let w = r;
  let escapes = 0;
  while (r >= 0) {
    if (++escapes > SPARSE_ESCAPES) {
      w = decodeEscapes(bytes, r, w, n);
      r = n;
      break;
    }
    const b = escapeAt(bytes, r, n);
    if (b >= 0) {
      bytes[w++] = b;
      decodedBytes |= b;
      r += 3;
    } else bytes[w++] = bytes[r++]!;
    // The text up to the next `%`, moved down over the bytes the escapes freed (positions in `raw` are positions in `bytes`).
    const next = raw.indexOf('%', r);
    const end = next < 0 ? n : next;
    if (end > r) {
      bytes.copyWithin(w, r, end);
      w += end - r;
    }
    r = next;
  }
  // Only escapes can have produced bytes above 0x7f; without any the bytes are ASCII and the cheaper latin1 read gives the same text.
  return bytes.toString(decodedBytes < 0x80 ? 'latin1' : 'utf8', 0, w);
}

const sharedDecoder = new FormValueDecoder();

/** One decode, for callers that do not need to know whether the result is ASCII. */
export function decodeFormValue(raw: string): string {
  return sharedDecoder.decode(raw);
}

/** The byte `%XX` at `i` stands for, or -1 when there is no valid escape there. */
function escapeAt(bytes: Buffer, i: number, n: number): number {
  if (i + 2 >= n) return -1;
  const hi = HEX_VALUE[bytes[i + 1]!]!;
  const lo = HEX_VALUE[bytes[i + 2]!]!;
  return (hi | lo) < 0 ? -1 : (hi << 4) | lo;
}

/** Every `+` byte of `bytes[0, n)` replaced by a space, a 32-bit word at a time. */
function plusesToSpaces(bytes: Buffer, words: Int32Array, n: number): void {
  const count = n >>> 2;
  for (let k = 0; k < count; k++) {
    const x = words[k]!;
    const y = x ^ 0x2b2b2b2b;
    // The high bit of each byte of y that is not zero (exact per byte: no borrow crosses bytes), inverted: bytes that were `+`.
    const plus = ~((((y & 0x7f7f7f7f) + 0x7f7f7f7f) | y) | 0x7f7f7f7f);
    // 0x2b ^ 0x0b = 0x20: flip bits 0, 1 and 3 of those bytes (shifts keep it in 32-bit integers; a multiply went through doubles).
    if (plus !== 0) words[k] = x ^ ((plus >>> 7) | (plus >>> 6) | (plus >>> 4));
  }
  for (let i = count << 2; i < n; i++) if (bytes[i] === 0x2b) bytes[i] = 0x20;
}

/** Each byte as a form field's literal text reads it: `+` is a space. */
const FORM_BYTE = new Uint8Array(256).map((_, c) => (c === 0x2b ? 0x20 : c));

/**
 * The byte loop from read position `r` and write position `w` to the end; returns the new length.
 * Literal `+` become spaces here too (idempotent after plusesToSpaces: the loop reads only bytes it has
 * not written). Digits and `+` by table, the OR of decoded bytes in a local.
 */
function decodeEscapes(bytes: Uint8Array, r: number, w: number, n: number): number {
  let decoded = 0;
  for (; r < n; r++) {
    const c = bytes[r]!;
    if (c !== 0x25) {
      bytes[w++] = FORM_BYTE[c]!;
      continue;
    }
    if (r + 2 < n) {
      const hi = HEX_VALUE[bytes[r + 1]!]!;
      const lo = HEX_VALUE[bytes[r + 2]!]!;
      if ((hi | lo) >= 0) {
        const b = (hi << 4) | lo;
        bytes[w++] = b;
        decoded |= b;
        r += 2;
        continue;
      }
    }
    bytes[w++] = c;
  }
  decodedBytes |= decoded;
  return w;
}
