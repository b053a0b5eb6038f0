/**
 * Crawler lists: the data-file lists that hold a crawler's own published ranges, the only lists a bot
 * catalogue may verify a bot with. A claim from an address in such a list is allowed past every block
 * rule, so the lists are a closed set (the `verify` names of the catalogue shipped with the hub, the
 * names docs/bots.md tells admins to give their crawler feeds), and their ranges are kept narrow.
 */
import { shippedBotCatalogue } from 'moat-waf';

let names: ReadonlySet<string> | undefined;

/** googlebot, bingbot, gptbot, …: never a cloud provider's list (aws, gcp, azure) nor an admin's own. */
export function crawlerLists(): ReadonlySet<string> {
  names ??= new Set(shippedBotCatalogue().bots.flatMap((b) => (b.verify === undefined ? [] : [b.verify])));
  return names;
}

/** Why a range, or a whole list, may not stand as a crawler list, or null when it may: the `crawlers` importer's own checks. */
export { crawlerListProblem, crawlerRangeProblem } from 'moat-waf/data';
