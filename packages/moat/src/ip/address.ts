// A single IP address as a value: family plus integer. Strict parsing for rule files and configuration
// (throws with a reason); the per-request path uses parseIpInto instead.

import { IpParseError } from './parse-error.js';
import { describeParseFailure } from './parse-failure.js';
import { scanIp } from './parse-into.js';
import { wordsToBigint } from './words.js';

export { IpParseError } from './parse-error.js';
export { formatIp } from './format-ip.js';

export type IpFamily = 4 | 6;

/** value: IPv4 0..2^32-1, IPv6 0..2^128-1. IPv4-mapped IPv6 (::ffff:a.b.c.d and ::ffff:XXXX:XXXX) is family 4. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

const scratch = new Uint32Array(4);

/** Parses an IPv4 or IPv6 address (see parseIpInto for the accepted forms). Throws IpParseError. */
export function parseIp(text: string): IpAddress {
  const result = scanIp(text, scratch);
  if (result === 4) return { family: 4, value: BigInt(scratch[0]!) };
  if (result === 6) return { family: 6, value: wordsToBigint(scratch, 0) };
  throw new IpParseError(text, describeParseFailure(result));
}

/** parseIp, with null instead of an exception. */
export function tryParseIp(text: string): IpAddress | null {
  const result = scanIp(text, scratch);
  if (result === 4) return { family: 4, value: BigInt(scratch[0]!) };
  if (result === 6) return { family: 6, value: wordsToBigint(scratch, 0) };
  return null;
}
