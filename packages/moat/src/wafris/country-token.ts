/**
 * Country codes as the Wafris gem sees them. The gem takes the country from a matched member's suffix
 * as the text after the last `G` of the part before the first `_`, so a code that itself holds a `G`
 * (GB reads as `B`, SG as an empty match, GG as nothing) never equals what blocked_country_codes holds.
 * Moat therefore writes such a code in lower case (`gb`): it has no upper-case `G`, so the gem's parse
 * returns it whole, and the gem compares it to blocked_country_codes with a case-sensitive `=`, where Moat
 * writes the same token. Codes without `G` stay as they are, so every token is distinct and names one
 * code; the gem reports a country block as `G_<token>`.
 */

/** The text the gem's parse yields for `cc` and that blocked_country_codes must hold. */
export function wafrisCountryToken(cc: string): string {
  return cc.includes('G') ? cc.toLowerCase() : cc;
}

/** The ISO code a token stands for; null for the gem's "unknown" (`ZZ`) or anything not two letters. */
export function countryOfWafrisToken(token: string): string | null {
  if (!/^[A-Za-z]{2}$/.test(token)) return null;
  const cc = token.toUpperCase();
  return cc === 'ZZ' ? null : cc;
}

/**
 * The country of a `bctry` report's rule (`G_gb` → `GB`, `G_US` → `US`); null when it names none.
 * Hubs map upsync records with this, since the token is not always the code.
 */
export function countryOfWafrisRule(rule: string): string | null {
  return rule.startsWith('G_') ? countryOfWafrisToken(rule.slice(2)) : null;
}

/**
 * The country a member suffix carries, read as the gem reads it (the part before the first `_`, then
 * after its last `G`), then mapped back from the token. Moat's files and the Wafris hub's (`GUS_12`)
 * both read right this way.
 */
export function countryOfMemberSuffix(suffix: string): string | null {
  // Ruby's split drops trailing empty fields, so trailing `G`s never end the part that is read.
  const head = suffix.split('_', 1)[0]!.replace(/G+$/, ''); // split with a limit of 1 returns one part
  return countryOfWafrisToken(head.slice(head.lastIndexOf('G') + 1));
}
