// `moat-waf/wafris`: the Wafris v2 file writers, and the mapping a hub needs to read what the gem
// reports in upsync back to the rules it came from.
export { writeWafrisRulesFile } from './write-wafris.js';
export type { WrittenWafrisFile } from './write-wafris.js';
export { writeWafrisDataFile } from '../data/wafris-data.js';
export type { WafrisDataOptions, WrittenWafrisData } from '../data/wafris-data.js';
// writeWafrisDataFile's input, made by compileData (moat-waf/data): an opaque table to hand over.
export type { CompiledData } from '../data/build-data.js';
export { countryOfWafrisRule, wafrisCountryToken } from './country-token.js';
export { WAFRIS_RATE_LIMIT_METHODS, wafrisReportedAs, wafrisRuleNumber } from './rule-rows.js';
