import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { detectKind, openReadOnly } from '../../format/open-sqlite.js';
import { loadDataFile, loadRulesFile } from '../../format/load-files.js';
import { countRules } from '../../format/write-rules.js';
import { UserError } from '../user-error.js';

export const inspectHelp = `moat inspect <file> [--json]
  Prints a rules or data file's format (Moat or Wafris), version, counts per rule kind and hash.`;

export function inspectCommand(argv: string[], out: (s: string) => void): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UserError(`usage: ${inspectHelp.split('\n')[0]}`, 2);
  const path = positionals[0];
  const db = openReadOnly(path);
  const kind = detectKind(db, path);
  db.close();
  let report: Record<string, unknown>;
  if (kind.endsWith('-rules')) {
    const set = loadRulesFile(path);
    report = {
      file: path, kind: 'rules', format: set.info.format, formatVersion: set.info.formatVersion, builtAt: set.info.builtAt,
      hash: set.info.hash, rules: set.rules.length, counts: countRules(set.rules),
      ranges: { allow: set.allowIps.table.size, block: set.blockIps.table.size },
      ...('skipped' in set ? { skippedEntries: set.skipped } : {}),
    };
  } else {
    const data = loadDataFile(path, 'light');
    const countries = new Set(data.labels.map((l) => l.country).filter(Boolean));
    report = {
      file: path, kind: 'data', format: data.info.format, formatVersion: data.info.formatVersion, builtAt: data.info.builtAt,
      hash: data.info.hash, ranges: data.table.size, labels: data.labels.length, countries: countries.size, lists: data.listNames,
    };
    data.close();
  }
  report.bytes = statSync(path).size;
  if (values.json) out(JSON.stringify(report));
  else for (const [k, v] of Object.entries(report)) out(`${k.padEnd(14)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
}
