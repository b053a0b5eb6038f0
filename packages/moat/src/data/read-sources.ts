/**
 * Reads the sources of a data build from files: imports each, reports its invalid lines, and refuses
 * a source that is empty or mostly garbage (import-result.ts) instead of shipping an empty list.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { DataInputs, SourceSummary } from './build-data.js';
import { importAsnCsv, importCountryCsv } from './importers/range-csv.js';
import { CloudFormatError, importCloudRanges } from './importers/cloud-ranges.js';
import type { IpRange } from '../ip/range.js';
import type { CloudFormat } from './importers/cloud-ranges.js';
import { assertMostlyValid } from './importers/import-result.js';
import type { ImportResult } from './importers/import-result.js';
import { importIpList } from './importers/ip-list.js';
import { resolveSourceFiles } from './sources.js';
import { MoatError } from '../errors/moat-error.js';

export interface SourceSpecs {
  /** CSV files or package names (`default`) of country ranges; their rows are taken together. */
  countries?: readonly string[];
  asns?: readonly string[];
  lists?: readonly { name: string; file: string }[];
  clouds?: readonly { name: string; file: string; format?: CloudFormat }[];
}

/** A source file that cannot be read, or a source given wrongly (MOAT_ERR_SOURCE_UNREADABLE). */
export class SourceReadError extends MoatError {
  override readonly name = 'SourceReadError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_SOURCE_UNREADABLE', message, options);
  }
}

/** Lines of a source's report: up to `shown` invalid lines with their numbers, then how many more. */
export function invalidReport(file: string, result: ImportResult<unknown>, shown = 5): string[] {
  const lines = result.invalid.slice(0, shown).map((bad) => `${file}:${bad.line}: skipped: ${bad.reason}`);
  if (result.invalid.length > shown) lines.push(`${file}: ${result.invalid.length - shown} more invalid lines skipped`);
  return lines;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new SourceReadError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

function checked<T>(file: string, result: ImportResult<T>, warn: (s: string) => void): ImportResult<T> {
  assertMostlyValid(file, result);
  for (const line of invalidReport(file, result)) warn(line);
  return result;
}

function summary(name: string, kind: SourceSummary['kind'], files: string[], ranges: number, invalidLines: number): SourceSummary {
  return { name, kind, file: files.map((f) => basename(f)).join(','), ranges, invalidLines };
}

const LIST_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Country or ASN sources: every file's rows taken together, one summary for the kind. */
function readCsvSources<Row>(
  specs: readonly string[], kind: 'country' | 'asn', importCsv: (text: string) => ImportResult<Row>, warn: (s: string) => void,
): { rows: Row[]; summary: SourceSummary } {
  const files = specs.flatMap((s) => resolveSourceFiles(s, kind));
  const rows: Row[] = [];
  let invalid = 0;
  for (const f of files) {
    const r = checked(f, importCsv(read(f)), warn);
    for (const row of r.rows) rows.push(row);
    invalid += r.invalid.length;
  }
  return { rows, summary: summary(kind, kind, files, rows.length, invalid) };
}

export function readSources(specs: SourceSpecs, warn: (s: string) => void = () => {}): DataInputs {
  const inputs: DataInputs = { lists: [] };
  if (specs.countries?.length) inputs.countries = readCsvSources(specs.countries, 'country', importCountryCsv, warn);
  if (specs.asns?.length) inputs.asns = readCsvSources(specs.asns, 'asn', importAsnCsv, warn);
  const names = new Set<string>();
  const named = (name: string) => {
    if (!LIST_NAME.test(name)) throw new SourceReadError(`invalid list name ${JSON.stringify(name)}: letters, digits, "_", "-" and "."`);
    if (names.has(name)) throw new SourceReadError(`list ${JSON.stringify(name)} is given twice`);
    names.add(name);
  };
  for (const { name, file } of specs.lists ?? []) {
    named(name);
    const r = checked(file, importIpList(read(file)), warn);
    inputs.lists!.push({ name, ranges: r.rows, summary: summary(name, 'list', [file], r.rows.length, r.invalid.length) });
  }
  for (const { name, file, format } of specs.clouds ?? []) {
    named(name);
    let imported: ImportResult<IpRange>;
    try {
      imported = importCloudRanges(read(file), format);
    } catch (e) {
      if (e instanceof CloudFormatError) throw new SourceReadError(`${file}: ${e.message}`, { cause: e });
      throw e;
    }
    const r = checked(file, imported, warn);
    inputs.lists!.push({ name, ranges: r.rows, summary: summary(name, 'cloud', [file], r.rows.length, r.invalid.length) });
  }
  return inputs;
}
