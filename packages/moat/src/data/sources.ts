/**
 * Where `--country` and `--asn` read from: a CSV file, or a package of the @ip-location-db family
 * (`default` names the default one). A package stands for its address-form CSVs (IPv4 and IPv6; the
 * `-num` copies hold the same rows as integers and are skipped).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MoatError } from '../errors/moat-error.js';

/** CC0 (public domain) country ranges, from registry (whois) and ASN data. */
export const DEFAULT_COUNTRY_SOURCE = '@ip-location-db/geo-whois-asn-country';
/** ASN ranges (RouteViews and DB-IP data, CC BY 4.0: attribution required when redistributed). */
export const DEFAULT_ASN_SOURCE = '@ip-location-db/asn';

const PACKAGE = /^@?[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?$/;

/** A source package that is not installed, or holds no files (MOAT_ERR_SOURCE_MISSING). */
export class SourceNotFoundError extends MoatError {
  override readonly name = 'SourceNotFoundError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_SOURCE_MISSING', message, options);
  }
}

/** The directory of an installed package, searched in node_modules from `from` up to the root. */
function packageDir(name: string, from: string): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

export function resolveSourceFiles(spec: string, kind: 'country' | 'asn', cwd = process.cwd()): string[] {
  const name = spec === 'default' ? (kind === 'country' ? DEFAULT_COUNTRY_SOURCE : DEFAULT_ASN_SOURCE) : spec;
  if (existsSync(name) || !PACKAGE.test(name) || !name.startsWith('@')) return [name];
  const dir = packageDir(name, cwd) ?? packageDir(name, import.meta.dirname);
  if (dir === null) throw new SourceNotFoundError(`${name} is not installed (npm install ${name}) and is no file`);
  const files = readdirSync(dir).filter((f) => f.endsWith('.csv') && !f.endsWith('-num.csv')).sort();
  if (files.length === 0) throw new SourceNotFoundError(`${name} holds no CSV files`);
  return files.map((f) => join(dir, f));
}
