import { parseArgs } from 'node:util';
import { buildDataFile } from '../../data/build-data.js';
import type { BuiltDataFile } from '../../data/build-data.js';
import { CLOUD_FORMATS } from '../../data/importers/cloud-ranges.js';
import type { CloudFormat } from '../../data/importers/cloud-ranges.js';
import { SourceRejectedError } from '../../data/importers/import-result.js';
import { readSources, SourceReadError } from '../../data/read-sources.js';
import type { SourceSpecs } from '../../data/read-sources.js';
import { SourceNotFoundError } from '../../data/sources.js';
import { refuseOutputsOverInputs } from '../output-paths.js';
import { UserError } from '../user-error.js';

export const dataHelp = `moat-waf data build [--country <ranges.csv|default> ...] [--asn <ranges.csv|default> ...]
                [--list <name>=<file> ...] [--cloud <name>[:<format>]=<file> ...]
                [--wafris <data_subscriptions.db> [--wafris-lists <name,...>]] [--json] -o <data.db>
  Builds a data file: country ranges (CSV start,end,country; "default" = @ip-location-db/geo-whois-asn-country),
  ASN ranges (CSV start,end,asn,organisation; "default" = @ip-location-db/asn), named IP lists (one IP, CIDR
  or range per line, # and ; comments: FireHOL, Spamhaus DROP, Tor exit lists) and cloud ranges
  (format ${CLOUD_FORMATS.join('|')}, detected when not given). Overlaps are resolved at build time.
  --wafris also writes the Wafris v2 data_subscriptions layout (reputation = --wafris-lists, default every --list),
  laid out so the Wafris gem finds every address and country, IPv4-mapped clients included.`;

const usage = () => new UserError(`usage: ${dataHelp.split('\n').slice(0, 3).map((l) => l.trim()).join(' ')}`, 'MOAT_ERR_USAGE');

function nameAndFile(option: string, spec: string): { name: string; format?: string; file: string } {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new UserError(`--${option} takes name=file, got ${JSON.stringify(spec)}`, 'MOAT_ERR_USAGE');
  const parts = spec.slice(0, eq).toLowerCase().split(':', 2);
  return { name: parts[0]!, format: parts[1], file: spec.slice(eq + 1) }; // split returns at least one part
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes < 1048576 ? 3 : 1)} MiB`;
}

export function dataCommand(argv: string[], out: (s: string) => void, warn: (s: string) => void): void {
  const [sub, ...rest] = argv;
  if (sub !== 'build') throw usage();
  const { values } = parseArgs({
    args: rest,
    options: {
      country: { type: 'string', multiple: true }, asn: { type: 'string', multiple: true },
      list: { type: 'string', multiple: true }, cloud: { type: 'string', multiple: true },
      wafris: { type: 'string' }, 'wafris-lists': { type: 'string' }, json: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
    },
  });
  if (!values.out || (!values.country && !values.asn && !values.list && !values.cloud)) throw usage();
  if (!values.wafris && values['wafris-lists'] !== undefined) {
    throw new UserError('--wafris-lists must go with --wafris <file>', 'MOAT_ERR_USAGE');
  }
  const specs: SourceSpecs = {
    countries: values.country, asns: values.asn,
    lists: (values.list ?? []).map((s) => {
      const { name, format, file } = nameAndFile('list', s);
      if (format !== undefined) throw new UserError(`--list takes name=file; a format is for --cloud`, 'MOAT_ERR_USAGE');
      return { name, file };
    }),
    clouds: (values.cloud ?? []).map((s) => {
      const { name, format, file } = nameAndFile('cloud', s);
      if (format !== undefined && !(CLOUD_FORMATS as readonly string[]).includes(format)) {
        throw new UserError(`unknown cloud format ${JSON.stringify(format)}: use ${CLOUD_FORMATS.join(', ')}`, 'MOAT_ERR_USAGE');
      }
      return { name, file, format: format as CloudFormat | undefined };
    }),
  };
  refuseOutputsOverInputs(
    [['-o', values.out], ...(values.wafris ? [['--wafris', values.wafris] as const] : [])],
    [
      ...(specs.countries ?? []).map((f) => ['--country', f] as const), ...(specs.asns ?? []).map((f) => ['--asn', f] as const),
      ...(specs.lists ?? []).map((l) => ['--list', l.file] as const), ...(specs.clouds ?? []).map((c) => ['--cloud', c.file] as const),
    ],
  );
  const started = performance.now();
  let inputs;
  try {
    inputs = readSources(specs, warn);
  } catch (e) {
    // A source that is mostly garbage is an invalid value, like a bad rules document; one that cannot be read is I/O.
    if (e instanceof SourceRejectedError || e instanceof SourceReadError || e instanceof SourceNotFoundError) throw new UserError(e.message, e.code, { cause: e });
    throw e;
  }
  const reputationLists = values['wafris-lists'] !== undefined
    ? values['wafris-lists'].split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
    : (inputs.lists ?? []).filter((l) => l.summary.kind === 'list').map((l) => l.name);
  const unknown = reputationLists.filter((n) => !(inputs.lists ?? []).some((l) => l.name === n));
  if (unknown.length > 0) throw new UserError(`--wafris-lists names lists not given: ${unknown.join(', ')}`, 'MOAT_ERR_USAGE');
  const built = buildDataFile(inputs, values.out, values.wafris ? { wafris: { path: values.wafris, reputationLists } } : {});
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    out(JSON.stringify({ ...built, seconds: Number(seconds.toFixed(3)) }));
    return;
  }
  report(built, seconds, out);
}

function report(built: BuiltDataFile, seconds: number, out: (s: string) => void): void {
  for (const s of built.sources) {
    out(`${s.kind.padEnd(8)} ${s.name.padEnd(16)} ${s.ranges} ranges${s.invalidLines ? `, ${s.invalidLines} invalid lines skipped` : ''}`);
  }
  out(`wrote ${built.path}: ${built.ranges} ranges from ${built.inputRanges} inputs, ${built.overlapsResolved} overlaps resolved, ` +
    `${built.labels} labels, ${mib(built.bytes)} in ${seconds.toFixed(2)} s; format v${built.formatVersion}, hash ${built.hash.slice(0, 16)}`);
  const w = built.wafris;
  if (w) {
    out(`wrote ${w.path} (Wafris data_subscriptions): ${w.countryRanges} country ranges, ${w.reputationRanges} reputation ranges, ` +
      `${w.mappedRanges} of them IPv4-mapped copies, ${mib(w.bytes)}; ${w.missedStarts} range starts the Wafris lookup cannot find`);
  }
}
