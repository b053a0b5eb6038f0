// Searching a site's rules (the Rules page and GET /api/sites/:id/rules): by value, note, or kind by
// its label, case aside. The store applies the filter, so a search reads one page, not every rule.
import type { RuleFilter } from '../store/store.js';

/** Each rule kind as the dashboard names it. */
export const KIND_LABELS: Record<string, string> = {
  ip: 'IP / CIDR / range', country: 'Country', asn: 'ASN', list: 'IP list', userAgent: 'User agent contains',
  path: 'Path contains', param: 'Parameters contain', host: 'Host', method: 'Method', rateLimit: 'Rate limit',
};

/** The store's filter for a search (value, note, or kind by its label; case does not matter). */
export function ruleFilter(q: string | undefined): RuleFilter {
  const search = q?.trim().toLowerCase() ?? '';
  if (search === '') return {};
  return { search, kinds: Object.entries(KIND_LABELS).filter(([kind, label]) => label.toLowerCase().includes(search) || kind.toLowerCase().includes(search)).map(([kind]) => kind) };
}
