/**
 * The Wafris v2 range encoding (../shared/wafris-v2.md): an address as its integer value (IPv4 in the
 * low 32 bits of the 128-bit space), in decimal, zero-padded to 39 digits so text order is numeric
 * order; each range is two members `<start39>-<suffix>` and `<end39>-<suffix>`.
 */
import type { IpRange } from '../ip/range.js';

export function encode39(value: bigint): string {
  return value.toString().padStart(39, '0');
}

/** Splits a member into its numeric value and suffix; null when it is not a member. */
export function decodeMember(member: string): { value: bigint; suffix: string } | null {
  const dash = member.indexOf('-');
  if (dash !== 39 || !/^\d{39}$/.test(member.slice(0, 39))) return null;
  const value = BigInt(member.slice(0, 39));
  if (value >= 1n << 128n) return null;
  return { value, suffix: member.slice(dash + 1) };
}

/** Values below 2^32 are IPv4 in this encoding (IPv4-compatible IPv6 cannot be told apart; it is obsolete). */
export function rangeFromValues(start: bigint, end: bigint): IpRange {
  const family = end < 1n << 32n ? 4 : 6;
  return { family, start, end };
}


/**
 * A table Moat adds to the Wafris files it writes (the Wafris client ignores unknown tables), so that Moat
 * reading its own export back knows the start members sit one below the real starts.
 */
export const MOAT_EXPORT_TABLE = 'moat_export';
