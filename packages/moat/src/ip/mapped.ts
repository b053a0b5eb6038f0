// The IPv4-mapped IPv6 block ::ffff:0:0/96. Node reports IPv4 clients of dual-stack sockets as
// "::ffff:a.b.c.d"; Moat treats every address in this block as the IPv4 address it carries (Wafris did
// not, so such clients never matched IPv4 rules). IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96)
// addresses are deliberately not included: they are distinct IPv6 addresses.

export const IPV4_MAPPED_FIRST = 0xffff_0000_0000n;
export const IPV4_MAPPED_LAST = 0xffff_ffff_ffffn;
