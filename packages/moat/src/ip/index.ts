// The IP address and range layer: everything else imports addresses and ranges from here.

export type { IpFamily, IpAddress } from './address.js';
export { IpParseError, parseIp, tryParseIp, formatIp } from './address.js';
export { parseIpInto } from './parse-into.js';
export type { IpRange } from './range.js';
export {
  parseRange,
  tryParseRange,
  formatRange,
  splitByFamily,
  rangeToCidrs,
  ipv6Words,
  wordsToBigint,
} from './range.js';
export { IPV4_MAPPED_FIRST, IPV4_MAPPED_LAST } from './address.js';
export { familyBits } from './range.js';
