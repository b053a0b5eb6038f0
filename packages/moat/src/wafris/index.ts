// The Wafris v2 compatibility API a hub needs besides the file writers: mapping what the gem reports
// in upsync back to the rules it came from.
export { countryOfWafrisRule, wafrisCountryToken } from './country-token.js';
export { WAFRIS_RATE_LIMIT_METHODS, wafrisReportedAs, wafrisRuleNumber } from './rule-rows.js';
