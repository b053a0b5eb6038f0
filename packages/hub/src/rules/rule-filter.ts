// Searching a site's rules (the Rules page and GET /api/sites/:id/rules): by value, note, or kind by
// its label, case aside. The store applies the filter, so a search reads one page, not every rule.
import type { RuleFilter } from '../store/store.js';

/**
 * How a search folds case, the search text and the rules' value and note alike, in every store: Unicode
 * lower-casing as JavaScript's toLowerCase, never the database's locale. `ÉCOLE` finds `école` and
 * `ΟΔΟΣ` finds `οδος`; nothing else is folded (no ß → ss: `STRASSE` does not find `straße`; no accents
 * or Unicode normalisation: `ecole` does not find `école`). SQLite applies it as it reads; PostgreSQL keeps
 * the folded text beside each rule (store/postgres/rule-folds.ts).
 */
export function foldForSearch(text: string): string {
  return text.toLowerCase();
}

/** Each rule kind as the dashboard names it. */
export const KIND_LABELS: Record<string, string> = {
  ip: 'IP / CIDR / range', country: 'Country', asn: 'ASN', list: 'IP list', userAgent: 'User agent contains',
  path: 'Path contains', param: 'Parameters contain', host: 'Host', method: 'Method', rateLimit: 'Rate limit',
};

/** The store's filter for a search (value, note, or kind by its label; case does not matter). */
export function ruleFilter(q: string | undefined): RuleFilter {
  const search = foldForSearch(q?.trim() ?? '');
  if (search === '') return {};
  return { search, kinds: Object.entries(KIND_LABELS).filter(([kind, label]) => foldForSearch(label).includes(search) || foldForSearch(kind).includes(search)).map(([kind]) => kind) };
}
