import { tryParseIp, tryParseRange } from 'moat-waf/ip';
import { foldForSearch } from '../rules/rule-filter.js';

// Reading a site's rules that may cover a few values (the overview's top lists, the IP page) without
// reading the whole list: up to 10,000 rules a site, 30–40 ms to read and index per page before.

/**
 * An address as a key that sorts as addresses do within a family: the family digit and 32 hex digits.
 * Compared as bytes (SQLite's BINARY, PostgreSQL's "C"), so a range holds an address when lo <= key <= hi.
 */
function addressKey(family: 4 | 6, value: bigint): string {
  return `${family}${value.toString(16).padStart(32, '0')}`;
}

/** The rules table's ip_lo / ip_hi (schema version 21): the range an IP rule holds; null for other rules, or an unreadable value. */
export function ruleIpBounds(kind: string, value: string): [string, string] | [null, null] {
  const range = kind === 'ip' ? tryParseRange(value) : null;
  return range ? [addressKey(range.family, range.start), addressKey(range.family, range.end)] : [null, null];
}

/** An address's key, compared with ip_lo and ip_hi; null when the text is not one address. */
export function ipLookupKey(ip: string): string | null {
  const address = tryParseIp(ip);
  return address ? addressKey(address.family, address.value) : null;
}

/**
 * What to look up (each field optional). The answer is every rule that ui/rule-coverage.ts could pick
 * for these values, in list order, and maybe a few more: the pages still decide exactly, from it.
 */
export interface RuleLookup {
  /** IP rules whose range holds one of these addresses (text as reported; unreadable ones are skipped). */
  ips?: readonly string[];
  /** Country, ASN and list rules of exactly these values. */
  countries?: readonly string[];
  asns?: readonly string[];
  lists?: readonly string[];
  /** Path and user-agent rules whose value is, case aside, within one of these texts. */
  paths?: readonly string[];
  userAgents?: readonly string[];
  /** Rules by id. */
  ids?: readonly string[];
}

/**
 * The texts a substring rule is looked for in, folded as the pages compare them (toLowerCase) and joined
 * by a line feed; null for none. A rule value holding a line feed might match across two texts: the
 * pages decide exactly, so an extra candidate costs nothing but its read.
 */
export function foldedHaystack(texts: readonly string[] | undefined): string | null {
  return texts && texts.length > 0 ? texts.map(foldForSearch).join('\n') : null;
}

/** The lookup's addresses as keys, without the unreadable ones and repeats. */
export function ipLookupKeys(ips: readonly string[] | undefined): string[] {
  return [...new Set((ips ?? []).map(ipLookupKey).filter((k): k is string => k !== null))];
}
