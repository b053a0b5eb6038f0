/**
 * Crawler lists: the data-file lists that hold a crawler's own published ranges, the only lists a bot
 * catalogue may verify a bot with. A claim from an address in such a list is allowed past every block
 * rule, so the lists are a closed set (the `verify` names of the catalogue shipped with the hub, the
 * names docs/bots.md tells admins to give their crawler feeds), and their ranges are kept narrow.
 */
import { shippedBotCatalogue } from 'moat-waf';
import { familyBits, type IpRange } from 'moat-waf/ip';

let names: ReadonlySet<string> | undefined;

/** googlebot, bingbot, gptbot, …: never a cloud provider's list (aws, gcp, azure) nor an admin's own. */
export function crawlerLists(): ReadonlySet<string> {
  names ??= new Set(shippedBotCatalogue().bots.flatMap((b) => (b.verify === undefined ? [] : [b.verify])));
  return names;
}

/**
 * The widest prefix a crawler list may hold, as moat-waf's `crawlers` importer allows (its CRAWLER_WIDEST):
 * published lists are /24 to /28 (IPv6 /64), so anything wider is a broken or hostile copy, and one
 * `0.0.0.0/0` would verify every address. Repeated here because moat-waf/data does not export it.
 */
const WIDEST = { 4: 16, 6: 32 } as const;

/** Why a range may not stand in a crawler list, or null when it may. */
export function crawlerRangeProblem(range: IpRange): string | null {
  const widest = WIDEST[range.family];
  if (range.end - range.start + 1n <= 1n << BigInt(familyBits(range.family) - widest)) return null;
  return `wider than /${widest}: no crawler publishes IPv${range.family} ranges that wide`;
}
