import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import type { Database as Db } from 'better-sqlite3';
import { detectKind, openReadOnly } from '../../format/open-sqlite.js';
import { loadDataFile, loadRulesFile } from '../../format/load-files.js';
import { countRules } from '../../format/write-rules.js';
import { MOAT_EXPORT_TABLE } from '../../wafris/encoding.js';
import { UserError } from '../user-error.js';

export const inspectHelp = `moat-waf inspect <file> [--json]
  Prints a rules or data file's format (Moat or Wafris), version, counts per rule kind and hash. For a
  Wafris file that "moat-waf wafris export" wrote, rules and counts are the rules exported (what the export
  reported); evaluatedRules is what Moat reads back from its rows (case and encoding forms, IPv4-mapped
  copies and merged ranges are rows of their own, plus the reputation rule Wafris applies implicitly).`;

/** The rules a Moat export was written from, as it recorded them; null for a file from anyone else. */
function exportedRules(db: Db): { rules: number; counts: Record<string, number> } | null {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MOAT_EXPORT_TABLE);
  if (!has) return null;
  const meta = new Map((db.prepare(`SELECT key, value FROM ${MOAT_EXPORT_TABLE}`).all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  const rules = Number(meta.get('rules'));
  let counts: unknown;
  try {
    counts = JSON.parse(meta.get('counts') ?? 'null');
  } catch {
    return null;
  }
  // An export from before the count was recorded, or an edited table: fall back to what the rows say.
  if (!Number.isInteger(rules) || rules < 0 || typeof counts !== 'object' || counts === null) return null;
  return { rules, counts: counts as Record<string, number> };
}

export function inspectCommand(argv: string[], out: (s: string) => void): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const path = positionals[0];
  if (positionals.length !== 1 || path === undefined) throw new UserError(`usage: ${inspectHelp.split('\n')[0]}`, 'MOAT_ERR_USAGE');
  const db = openReadOnly(path);
  let kind;
  let exported = null;
  try {
    kind = detectKind(db, path);
    if (kind === 'wafris-rules') exported = exportedRules(db);
  } finally {
    db.close();
  }
  let report: Record<string, unknown>;
  if (kind.endsWith('-rules')) {
    const set = loadRulesFile(path);
    report = {
      file: path, kind: 'rules', format: set.info.format, formatVersion: set.info.formatVersion, builtAt: set.info.builtAt,
      hash: set.info.hash,
      ...(exported
        ? { writer: 'moat', rules: exported.rules, counts: exported.counts, evaluatedRules: set.rules.length }
        : { rules: set.rules.length, counts: countRules(set.rules) }),
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
