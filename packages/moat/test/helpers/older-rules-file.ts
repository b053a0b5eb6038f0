// A rules file as an older Moat could have written it: valid format and hashes, but holding a rule the
// compiler now refuses. Made by compiling a safe rule and rewriting it in place with the hash recomputed.
import Database from 'better-sqlite3';
import { readRules } from '../../src/format/read-rules.js';
import { rulesContentHash, writeRulesFile } from '../../src/format/write-rules.js';
import type { Rule } from '../../src/rules/types.js';

/** Writes `rules` to `file`, then applies `sql` to the rules table and re-signs the content hash. */
export function olderRulesFile(file: string, rules: Rule[], sql: string): string {
  writeRulesFile(rules, file);
  const db = new Database(file);
  db.exec(sql);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'content_hash'").run(rulesContentHash(readRules(db)));
  db.close();
  return file;
}
