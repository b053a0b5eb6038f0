// `moat-waf/data`: building data files (countries, ASNs, named IP lists) from source files, what
// `moat-waf data build` does, for programs that build them themselves (the hub's feeds do).
export { buildDataFile, compileData } from './build-data.js';
export type { DataInputs, BuiltDataFile, BuildDataOptions, SourceSummary, CompiledData } from './build-data.js';
export { importIpList } from './importers/ip-list.js';
export { importCountryCsv, importAsnCsv } from './importers/range-csv.js';
export { importCloudRanges, CLOUD_FORMATS, CRAWLER_WIDEST, crawlerListProblem, crawlerRangeProblem } from './importers/cloud-ranges.js';
export type { CloudFormat } from './importers/cloud-ranges.js';
export type { ImportResult, InvalidLine, CountryRow, AsnRow } from './importers/import-result.js';
export { readSources } from './read-sources.js';
export type { SourceSpecs } from './read-sources.js';
export { CONTINENT_NAMES, CONTINENT_OF } from '../rules/continents.js';
