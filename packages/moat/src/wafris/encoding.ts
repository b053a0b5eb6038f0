/**
 * The Wafris v2 range encoding: an address as its integer value (IPv4 in the
 * low 32 bits of the 128-bit space), in decimal, zero-padded to 39 digits so text order is numeric
 * order; each range is two members `<start39>-<suffix>` and `<end39>-<suffix>`. The gem compares the
 * text after the last `-` (Ruby's `split("-").last`), so that is what a suffix is here too.
 */
import type { IpRange } from '../ip/range.js';

export function encode39(value: bigint): string {
  return value.toString().padStart(39, '0');
}

/**
 * Splits a member into its numeric value and suffix (the text after the last `-`; trailing dashes are
 * dropped first, as Ruby's split drops empty trailing fields); null when it is not a member.
 */
export function decodeMember(member: string): { value: bigint; suffix: string } | null {
  if (member.charCodeAt(39) !== 0x2d || !/^\d{39}$/.test(member.slice(0, 39))) return null;
  const value = BigInt(member.slice(0, 39));
  if (value >= 1n << 128n) return null;
  let end = member.length;
  while (end > 40 && member.charCodeAt(end - 1) === 0x2d) end--;
  const suffix = member.slice(member.lastIndexOf('-', end - 1) + 1, end);
  return suffix === '' ? null : { value, suffix };
}

/** Values below 2^32 are IPv4 in this encoding (IPv4-compatible IPv6 cannot be told apart; it is obsolete). */
export function rangeFromValues(start: bigint, end: bigint): IpRange {
  const family = end < 1n << 32n ? 4 : 6;
  return { family, start, end };
}


/**
 * A table Moat adds to the Wafris files it writes (the Wafris client ignores unknown tables), so that Moat
 * reading its own export back knows the start members sit one below the real starts. A start member of
 * 0 is read as start 0: a range from address 1 and one from address 0 are written alike, and only
 * address 0 itself (which the gem can never match) is in doubt.
 */
export const MOAT_EXPORT_TABLE = 'moat_export';
