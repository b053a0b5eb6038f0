// Why a text is not an IP address. The scanner returns these as negative numbers so that the hot path
// reports failure without allocating; only the throwing parsers turn them into words.

// An object of constants rather than a const enum, which per-file transpilers (tsx) do not inline.
export const ParseFailure = {
  Empty: -1,
  UnexpectedCharacter: -2,
  Ipv4PartCount: -3,
  Ipv4PartOutOfRange: -4,
  Ipv4LeadingZero: -5,
  Ipv4EmptyPart: -6,
  Ipv4WithPort: -7,
  Ipv4InBrackets: -8,
  UnclosedBracket: -9,
  GroupTooLong: -10,
  GroupCount: -11,
  EmptyGroup: -12,
  DoubleCompression: -13,
  EmbeddedIpv4Position: -14,
  EmptyZone: -15,
  NotAnAddress: -16,
} as const;

/** A short human reason for a failure code, appended to the error message. */
export function describeParseFailure(code: number): string {
  switch (code) {
    case ParseFailure.Empty:
      return 'empty text';
    case ParseFailure.UnexpectedCharacter:
      return 'unexpected character';
    case ParseFailure.Ipv4PartCount:
      return 'an IPv4 address has exactly 4 decimal parts';
    case ParseFailure.Ipv4PartOutOfRange:
      return 'an IPv4 part must be 0 to 255';
    case ParseFailure.Ipv4LeadingZero:
      return 'leading zeros are not allowed in IPv4 parts (some parsers read them as octal)';
    case ParseFailure.Ipv4EmptyPart:
      return 'empty IPv4 part';
    case ParseFailure.Ipv4WithPort:
      return 'a port is not part of an IP address';
    case ParseFailure.Ipv4InBrackets:
      return 'brackets are only for IPv6 addresses';
    case ParseFailure.UnclosedBracket:
      return 'unbalanced brackets (or a port after them)';
    case ParseFailure.GroupTooLong:
      return 'an IPv6 group has at most 4 hex digits';
    case ParseFailure.GroupCount:
      return 'an IPv6 address has 8 groups, or fewer with one "::"';
    case ParseFailure.EmptyGroup:
      return 'empty IPv6 group (a lone ":" at the start or end?)';
    case ParseFailure.DoubleCompression:
      return '"::" may appear only once';
    case ParseFailure.EmbeddedIpv4Position:
      return 'an embedded IPv4 address must be the last 32 bits';
    case ParseFailure.EmptyZone:
      return 'empty or invalid zone after "%"';
    case ParseFailure.NotAnAddress:
      return 'neither dotted IPv4 nor IPv6';
    default:
      return 'not an IP address';
  }
}
