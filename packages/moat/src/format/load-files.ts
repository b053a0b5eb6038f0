/** Opens any rules or data file Moat understands, telling Moat from Wafris files by their tables. */
import type { RuleSet } from '../engine/rule-set.js';
import { buildRuleSet } from '../engine/rule-set.js';
import type { DataSet } from '../data/data-set.js';
import { loadMoatData } from '../data/read-data.js';
import type { DataMode } from '../data/data-set.js';
import { loadWafrisData, loadWafrisRules } from '../wafris/read-wafris.js';
import { MoatFileError } from '../errors/moat-error.js';
import { detectKind, openReadOnly } from './open-sqlite.js';
import { loadMoatRules } from './read-rules.js';

export function loadRulesFile(path: string): RuleSet {
  const db = openReadOnly(path);
  try {
    const kind = detectKind(db, path);
    if (kind === 'moat-rules') return loadMoatRules(db, path);
    if (kind === 'wafris-rules') return loadWafrisRules(db, path);
    throw new MoatFileError('MOAT_ERR_FILE_KIND', path, `this is a ${kind.replace('-', ' ')} file, not a rules file`);
  } finally {
    db.close(); // rule sets live in memory
  }
}

export function loadDataFile(path: string, mode: DataMode = 'memory', options: { labelsChecked?: boolean } = {}): DataSet {
  const db = openReadOnly(path);
  try {
    const kind = detectKind(db, path);
    if (kind === 'moat-data') return loadMoatData(db, path, mode, options);
    if (kind === 'wafris-data') return loadWafrisData(db, path);
    throw new MoatFileError('MOAT_ERR_FILE_KIND', path, `this is a ${kind.replace('-', ' ')} file, not a data file`);
  } catch (e) {
    if (db.open) db.close();
    throw e;
  }
}

export function emptyRuleSet(): RuleSet {
  return buildRuleSet([], { path: null, format: 'moat', formatVersion: 1, builtAt: null, hash: '' });
}
