/**
 * Which addresses the hub may fetch a feed from. A feed URL is typed by an admin but fetched by the hub,
 * from inside its network: without a check it would reach the metadata service (169.254.169.254), the
 * database, or the hub itself. So loopback, private, link-local, shared, multicast and reserved
 * addresses are refused unless the operator opts in (`--feeds-allow-private`, e.g. a feed mirror on the
 * LAN). The check runs on every address the name resolves to, at connect time (the `lookup` the request
 * uses), so a name that resolves to a private address, or re-resolves to one later, is refused too.
 */
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';

const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
// ::/96 (IPv4-compatible) and ::ffff:0:0:0/96 (IPv4-translated) in hex form (`::7f00:1` is 127.0.0.1)
// carry an IPv4 address the dotted-form checks below do not see. Not ::ffff:0:0/96 (IPv4-mapped):
// BlockList judges those by the IPv4 rules already, and checks plain IPv4 addresses against it too.
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['::', 96], ['::ffff:0:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** True for an address on the public internet. IPv4-mapped and IPv4-compatible forms are judged as the IPv4 address they carry. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = MAPPED.exec(bare);
  if (mapped) return isPublicAddress(mapped[1]!);
  const family = isIP(bare);
  if (family === 0) return false;
  if (family === 6 && /^::(\d+\.\d+\.\d+\.\d+)$/.test(bare)) return false; // deprecated IPv4-compatible form
  return !NON_PUBLIC.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

export class RefusedAddressError extends Error {
  readonly code = 'refused_address';
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves as usual, then refuses the connection when any address
 * is not public (all of them, so a name with one public and one private address cannot be raced).
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      const refused = allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address));
      if (refused) return callback(new RefusedAddressError(`${hostname} resolves to ${refused.address}, a non-public address (start the hub with --feeds-allow-private to allow it)`), []);
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      return callback(null, first.address, first.family);
    });
  };
}
