// The per-request IP parser. Measured hot path (docs/performance.md: parsing alone is ~0.13 µs of
// a ~0.5 µs lookup), so it is a hand-rolled charCode scanner: no regex, no split, no substring, no
// allocation. Failures come back as negative codes (./parse-failure.ts) so even rejecting costs nothing.

import { ParseFailure } from './parse-failure.js';

const SPACE = 0x20;
const TAB = 0x09;
const CARRIAGE_RETURN = 0x0d;
const PERCENT = 0x25;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

// The IPv6 groups read so far, before the "::" gap is opened. Module-level so that parsing allocates
// nothing; the scanner runs synchronously to completion, so no two calls ever share it.
const groups = new Uint16Array(8);

function isAsciiWhitespace(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CARRIAGE_RETURN);
}

/** Zone identifiers: RFC 6874 "unreserved" characters (interface names like eth0, br-lan, wlan0.1, 25). */
function isZoneCharacter(c: number): boolean {
  return (
    (c >= ZERO && c <= NINE) ||
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x2d || // -
    c === DOT ||
    c === 0x5f || // _
    c === 0x7e // ~
  );
}

/** True when text[from, to) is one or more decimal digits (a port after "a.b.c.d:"). */
function isAllDigits(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return false;
  }
  return true;
}

/**
 * Strict dotted-quad IPv4 in text[from, to): exactly four decimal parts 0-255 without leading zeros.
 * Returns the value (0..2^32-1, as a double so it stays non-negative) or a negative ParseFailure.
 */
function scanIpv4(text: string, from: number, to: number): number {
  let value = 0;
  let parts = 0;
  let i = from;
  for (;;) {
    const partStart = i;
    let part = 0;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      part = part * 10 + (c - ZERO);
      if (part > 255) part = 256; // stays "too big" however many digits follow, without growing
      i++;
    }
    const digits = i - partStart;
    if (digits === 0) {
      return i < to && text.charCodeAt(i) !== DOT ? ParseFailure.UnexpectedCharacter : ParseFailure.Ipv4EmptyPart;
    }
    if (digits > 1 && text.charCodeAt(partStart) === ZERO) return ParseFailure.Ipv4LeadingZero;
    if (part > 255) return ParseFailure.Ipv4PartOutOfRange;
    value = value * 256 + part;
    parts++;
    if (i === to) break;
    const c = text.charCodeAt(i);
    if (c !== DOT) {
      if (c === COLON && parts === 4 && isAllDigits(text, i + 1, to)) return ParseFailure.Ipv4WithPort;
      return ParseFailure.UnexpectedCharacter;
    }
    if (parts === 4) return ParseFailure.Ipv4PartCount;
    i++;
  }
  return parts === 4 ? value : ParseFailure.Ipv4PartCount;
}

/**
 * The scanner behind parseIpInto and parseIp: returns 4 or 6 (see parseIpInto for what lands in `out`),
 * or a negative ParseFailure code saying why the text is not an address.
 */
export function scanIp(text: string, out: Uint32Array): number {
  if (typeof text !== 'string') return ParseFailure.NotAnAddress; // untyped callers pass undefined headers
  let start = 0;
  let end = text.length;
  while (start < end && isAsciiWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isAsciiWhitespace(text.charCodeAt(end - 1))) end--;
  if (start === end) return ParseFailure.Empty;

  let bracketed = false;
  if (text.charCodeAt(start) === OPEN_BRACKET) {
    if (end - start < 2 || text.charCodeAt(end - 1) !== CLOSE_BRACKET) return ParseFailure.UnclosedBracket;
    start++;
    end--;
    bracketed = true;
    if (start === end) return ParseFailure.Empty;
  }

  let count = 0; // groups read into `groups`
  let gapAt = -1; // index in `groups` where "::" stands
  let afterGap = false; // just read "::": the text may end, or a zone start, here
  let i = start;
  if (text.charCodeAt(i) === COLON) {
    if (i + 1 >= end || text.charCodeAt(i + 1) !== COLON) return ParseFailure.EmptyGroup;
    gapAt = 0;
    afterGap = true;
    i += 2;
  }

  for (;;) {
    if (i === end) break; // only reachable right after "::"; a trailing single ':' is caught below
    const tokenStart = i;
    if (afterGap && text.charCodeAt(i) === PERCENT) break;
    let value = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      let digit: number;
      if (c >= ZERO && c <= NINE) digit = c - ZERO;
      else {
        const lower = c | 0x20;
        if (lower >= 0x61 && lower <= 0x66) digit = lower - 0x57;
        else break;
      }
      value = ((value << 4) | digit) & 0xfffff; // bounded; more than 4 digits is rejected below
      i++;
    }
    const digits = i - tokenStart;
    const next = i < end ? text.charCodeAt(i) : -1;

    if (next === DOT) {
      if (count === 0 && gapAt < 0) {
        // The whole text is dotted IPv4.
        if (bracketed) return ParseFailure.Ipv4InBrackets;
        const v4 = scanIpv4(text, tokenStart, end);
        if (v4 < 0) return v4;
        out[0] = v4;
        return 4;
      }
      // Embedded IPv4: must fill the last 32 bits, followed only by an optional zone.
      let v4End = tokenStart;
      while (v4End < end) {
        const c = text.charCodeAt(v4End);
        if (c === PERCENT || c === COLON) break;
        v4End++;
      }
      const v4 = scanIpv4(text, tokenStart, v4End);
      if (v4 < 0) return v4;
      if (v4End < end && text.charCodeAt(v4End) === COLON) return ParseFailure.EmbeddedIpv4Position;
      if (count > 6) return ParseFailure.GroupCount;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = v4End;
      break;
    }
    if (count === 0 && gapAt < 0 && next !== COLON) return ParseFailure.NotAnAddress;
    if (digits === 0) {
      return next === COLON || next === PERCENT ? ParseFailure.EmptyGroup : ParseFailure.UnexpectedCharacter;
    }
    if (digits > 4) return ParseFailure.GroupTooLong;
    if (count === 8) return ParseFailure.GroupCount;
    groups[count++] = value;
    afterGap = false;
    if (next === -1 || next === PERCENT) break;
    if (next !== COLON) return ParseFailure.UnexpectedCharacter;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gapAt >= 0) return ParseFailure.DoubleCompression;
      gapAt = count;
      afterGap = true;
      i++;
    } else if (i === end) {
      return ParseFailure.EmptyGroup;
    }
  }

  if (i < end) {
    // Zone suffix ("%eth0"): validated, then dropped.
    i++;
    if (i === end) return ParseFailure.EmptyZone;
    for (; i < end; i++) if (!isZoneCharacter(text.charCodeAt(i))) return ParseFailure.EmptyZone;
  }

  if (gapAt < 0 ? count !== 8 : count > 7) return ParseFailure.GroupCount; // "::" stands for >= 1 group
  if (gapAt < 0) gapAt = count; // no "::": a gap of zero groups after the last one
  const gap = 8 - count;
  let high = 0;
  for (let j = 0; j < 8; j++) {
    // j and j - gap are below 8, and `groups` holds 8 (the `!`s: no check on the request path).
    const group = j < gapAt ? groups[j]! : j < gapAt + gap ? 0 : groups[j - gap]!;
    if ((j & 1) === 0) high = group;
    else out[j >> 1] = ((high << 16) | group) >>> 0;
  }
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    // ::ffff:0:0/96, IPv4-mapped: the IPv4 address Node reports for IPv4 clients on dual-stack sockets.
    out[0] = out[3]!;
    return 4;
  }
  return 6;
}

/**
 * Parses `text` into `out` (a Uint32Array of length >= 4) without allocating.
 * Returns 4 with out[0] = the IPv4 value as uint32 (also for IPv4-mapped IPv6; out[1..3] are then
 * unspecified), 6 with out[0..3] = the 128-bit value as four big-endian 32-bit words, or 0 when the text
 * is not a valid IP. Never throws.
 */
export function parseIpInto(text: string, out: Uint32Array): 0 | 4 | 6 {
  const family = scanIp(text, out);
  return family === 4 ? 4 : family === 6 ? 6 : 0;
}
