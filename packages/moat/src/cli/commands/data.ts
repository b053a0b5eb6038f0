import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDataFile } from '../../data/build-data.js';
import type { DataInputs } from '../../data/build-data.js';
import { importCountryCsv } from '../../data/importers/country-csv.js';
import { importIpList } from '../../data/importers/ip-list.js';
import { assertMostlyValid } from '../../data/importers/import-result.js';
import type { ImportResult } from '../../data/importers/import-result.js';
import { UserError } from '../user-error.js';

export const dataHelp = `moat data build [--country <ranges.csv>] [--list <name>=<file> ...] -o <data.db>
  Builds a data file from country ranges (CSV start,end,country) and named IP lists
  (one IP, CIDR or range per line, # and ; comments). Overlaps are resolved at build time.`;

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function checked<T>(file: string, result: ImportResult<T>, warn: (s: string) => void): ImportResult<T> {
  try {
    assertMostlyValid(file, result);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  for (const bad of result.invalid.slice(0, 5)) warn(`${file}:${bad.line}: skipped: ${bad.reason}`);
  if (result.invalid.length > 5) warn(`${file}: ${result.invalid.length - 5} more invalid lines skipped`);
  return result;
}

export function dataCommand(argv: string[], out: (s: string) => void, warn: (s: string) => void): void {
  const [sub, ...rest] = argv;
  if (sub !== 'build') throw new UserError(`usage: ${dataHelp.split('\n')[0]}`, 2);
  const { values } = parseArgs({
    args: rest,
    options: { country: { type: 'string' }, list: { type: 'string', multiple: true }, out: { type: 'string', short: 'o' } },
  });
  if (!values.out || (!values.country && !values.list)) throw new UserError(`usage: ${dataHelp.split('\n')[0]}`, 2);
  const started = performance.now();
  const inputs: DataInputs = {};
  if (values.country) {
    const r = checked(values.country, importCountryCsv(read(values.country)), warn);
    inputs.countries = { rows: r.rows, summary: { name: 'country', kind: 'country', file: basename(values.country), ranges: r.rows.length, invalidLines: r.invalid.length } };
  }
  inputs.lists = (values.list ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UserError(`--list takes name=file, got ${JSON.stringify(spec)}`);
    const name = spec.slice(0, eq).toLowerCase();
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(name)) throw new UserError(`invalid list name ${JSON.stringify(name)}`);
    const file = spec.slice(eq + 1);
    const r = checked(file, importIpList(read(file)), warn);
    return { name, ranges: r.rows, summary: { name, kind: 'list' as const, file: basename(file), ranges: r.rows.length, invalidLines: r.invalid.length } };
  });
  const built = buildDataFile(inputs, values.out);
  const secs = ((performance.now() - started) / 1000).toFixed(2);
  for (const s of built.sources) out(`${s.kind.padEnd(8)} ${s.name.padEnd(16)} ${s.ranges} ranges${s.invalidLines ? `, ${s.invalidLines} invalid lines skipped` : ''}`);
  out(`wrote ${values.out}: ${built.ranges} ranges from ${built.inputRanges} inputs, ${built.overlapsResolved} overlaps resolved, ` +
    `${built.labels} labels, ${(statSync(values.out).size / 1048576).toFixed(1)} MiB in ${secs} s; hash ${built.hash.slice(0, 16)}`);
}
