/** Loads a Moat rules file into the evaluator's structures. Everything is read here, once. */
import type { Database as Db } from 'better-sqlite3';
import { buildRuleSet } from '../engine/rule-set.js';
import type { RuleSet } from '../engine/rule-set.js';
import type { Rule, RuleAction, RuleKind, RuleMode } from '../rules/types.js';
import { unsafeRuleProblems } from '../rules/rule-safety.js';
import { normalizeAttackSettings } from '../rules/attack-settings.js';
import { MoatFileError } from './moat-file-error.js';
import { loadRangeTable } from './packed-ranges.js';
import { readMeta } from './open-sqlite.js';
import { RULES_FORMAT_VERSION } from './schema.js';
import { ipIndexHash, rulesContentHash, rulesFileHash } from './write-rules.js';

interface RuleRow {
  seq: number; id: string; action: RuleAction; kind: RuleKind; value: string; note: string | null; mode: RuleMode;
  expires: number | null; rl_method: string | null; rl_path: string | null; rl_match: 'exact' | 'prefix' | null;
  rl_limit: number | null; rl_window_ms: number | null;
}

export function readRules(db: Db): Rule[] {
  const rows = db.prepare('SELECT * FROM rules ORDER BY seq').all() as RuleRow[];
  return rows.map((row, i) => {
    if (row.seq !== i) throw new Error(`rules are not numbered 0..n-1 (seq ${row.seq} at ${i})`);
    const rule: Rule = { id: row.id, action: row.action, kind: row.kind, value: row.value, mode: row.mode };
    if (row.note !== null) rule.note = row.note;
    if (row.expires !== null) rule.expires = row.expires;
    if (row.kind === 'rateLimit') {
      rule.rateLimit = {
        method: row.rl_method, path: row.rl_path ?? '/', match: row.rl_match ?? 'exact',
        limit: row.rl_limit ?? 0, windowMs: row.rl_window_ms ?? 0,
      };
    }
    return rule;
  });
}

export function loadMoatRules(db: Db, path: string): RuleSet {
  try {
    const meta = readMeta(db);
    const version = Number(meta.get('format_version'));
    if (!Number.isInteger(version) || version < 1) throw new Error('missing format version');
    if (version > RULES_FORMAT_VERSION) {
      throw new Error(`format version ${version} is newer than this Moat understands (${RULES_FORMAT_VERSION}); upgrade moat`);
    }
    const rules = readRules(db);
    const contentHash = meta.get('content_hash') ?? '';
    if (rulesContentHash(rules) !== contentHash) throw new Error('content hash does not match the rules (corrupt or edited file)');
    // No `attacks` row: a file from before attack detection, or written without it — detection off.
    const attacksJson = meta.get('attacks');
    const attacks = attacksJson === undefined ? null : normalizeAttackSettings(JSON.parse(attacksJson));
    const hash = rulesFileHash(contentHash, attacks);
    if (attacks !== null && meta.get('attacks_hash') !== hash) throw new Error('attack settings do not match their hash (corrupt or edited file)');
    // A file from an older Moat may hold rules the compiler now refuses (a "/" path block, a rate limit
    // under a second): refused whole, like any unusable file, so the rules in force stay in force.
    for (const r of rules) {
      const unsafe = unsafeRuleProblems(r);
      if (unsafe.length > 0) throw new Error(`rule ${JSON.stringify(r.id)}: ${unsafe.join('; ')} (recompile the rules with this Moat)`);
    }
    const sets = (name: string) => {
      const rows = db.prepare('SELECT id, members FROM label_sets WHERE set_name = ? ORDER BY id').all(name) as { id: number; members: string }[];
      return rows.map((r, i) => {
        if (r.id !== i) throw new Error(`label sets of "${name}" are not numbered 0..n-1`);
        const members = JSON.parse(r.members) as number[];
        for (const m of members) if (!Number.isInteger(m) || m < 0 || m >= rules.length) throw new Error(`label set refers to rule ${m}`);
        return members;
      });
    };
    const index = (name: 'allow' | 'block') => {
      const table = loadRangeTable(db, name);
      const s = sets(name);
      const maxLabel = table.maxLabel();
      if (maxLabel >= s.length) throw new Error(`range set "${name}" refers to a missing label set`);
      return { table, sets: s };
    };
    const allow = index('allow');
    const block = index('block');
    // Files from before the ranges checksum existed have none; every file Moat writes now has one.
    const rangesHash = meta.get('ranges_hash');
    if (rangesHash !== undefined && ipIndexHash([allow, block]) !== rangesHash) {
      throw new Error('compiled IP ranges do not match their checksum (corrupt or edited file)');
    }
    return buildRuleSet(
      rules,
      { path, format: 'moat', formatVersion: version, builtAt: meta.get('built_at') ?? null, hash },
      { allow, block },
      attacks,
    );
  } catch (e) {
    if (e instanceof MoatFileError) throw e;
    throw new MoatFileError(path, `unreadable rules file: ${(e as Error).message}`, { cause: e });
  }
}
