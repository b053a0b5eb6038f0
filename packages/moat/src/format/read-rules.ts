/** Loads a Moat rules file into the evaluator's structures. Everything is read here, once. */
import type { Database as Db } from 'better-sqlite3';
import { buildRuleSet, flattenIpRules, ipIndexFromFlat } from '../engine/rule-set.js';
import type { RuleSet } from '../engine/rule-set.js';
import { sharedWord, type RateLimitSpec, type Rule, type RuleAction, type RuleKind, type RuleMode } from '../rules/types.js';
import { parseRateLimitKey } from '../rules/rate-limit-key.js';
import { unsafeRuleProblems } from '../rules/rule-safety.js';
import { normalizeAttackSettings, normalizeHeaderNames } from '../rules/attack-settings.js';
import { botSettingsFromJson } from '../rules/bot-settings.js';
import { normalizeReportKeys } from '../rules/key-ban.js';
import { loadRangeTable } from './packed-ranges.js';
import { readMeta } from './open-sqlite.js';
import { RULES_FORMAT_VERSION } from './schema.js';
import { attackHeadersFileHash, botsFileHash, ipIndexHash, reportKeysFileHash, rulesContentHash, rulesFileHash, rulesFormatVersion } from './write-rules.js';
import { MoatError, MoatFileError, errorCodeOf } from '../errors/moat-error.js';

interface RuleRow {
  seq: number; id: string; action: RuleAction; kind: RuleKind; value: string; note: string | null; mode: RuleMode;
  expires: number | null; rl_method: string | null; rl_path: string | null; rl_match: 'exact' | 'prefix' | null;
  rl_limit: number | null; rl_window_ms: number | null;
  /** Absent from files written before keyed rate limits. */
  rl_key?: string | null;
}

export function readRules(db: Db): Rule[] {
  const rows = db.prepare('SELECT * FROM rules ORDER BY seq').all() as RuleRow[];
  return rows.map((row, i) => {
    if (row.seq !== i) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `rules are not numbered 0..n-1 (seq ${row.seq} at ${i})`);
    let rule: Rule;
    if (row.kind === 'rateLimit') {
      const rateLimit: RateLimitSpec = {
        method: row.rl_method, path: row.rl_path ?? '/', match: row.rl_match ?? 'exact',
        limit: row.rl_limit ?? 0, windowMs: row.rl_window_ms ?? 0,
      };
      // A bad key text throws a RuleError: the whole file is refused, like any unusable file.
      const key = parseRateLimitKey(row.rl_key);
      if (key !== undefined) rateLimit.key = key;
      rule = { id: row.id, action: 'block', kind: 'rateLimit', value: row.value, mode: sharedWord(row.mode), rateLimit };
    } else {
      rule = { id: row.id, action: sharedWord(row.action), kind: sharedWord(row.kind), value: row.value, mode: sharedWord(row.mode) };
    }
    if (row.note !== null) rule.note = row.note;
    if (row.expires !== null) rule.expires = row.expires;
    return rule;
  });
}

export function loadMoatRules(db: Db, path: string): RuleSet {
  try {
    const meta = readMeta(db);
    const version = Number(meta.get('format_version'));
    if (!Number.isInteger(version) || version < 1) throw new MoatError('MOAT_ERR_FILE_VERSION', 'missing format version');
    if (version > RULES_FORMAT_VERSION) {
      throw new MoatError('MOAT_ERR_FILE_VERSION', `format version ${version} is newer than this Moat understands (${RULES_FORMAT_VERSION}); upgrade moat`);
    }
    const rules = readRules(db);
    // Keyed rate limits came with version 2, keyed bans with 3: a file claiming less was edited (older
    // readers would count those limits per IP, or not know the bans).
    if (version < rulesFormatVersion(rules)) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', `format version ${version} cannot hold ${rulesFormatVersion(rules) === 3 ? 'keyed bans' : 'keyed rate limits'} (corrupt or edited file)`);
    }
    const contentHash = meta.get('content_hash') ?? '';
    if (rulesContentHash(rules) !== contentHash) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'content hash does not match the rules (corrupt or edited file)');
    // No `attacks` row: a file from before attack detection, or written without it — detection off.
    const attacksJson = meta.get('attacks');
    const attacks = attacksJson === undefined ? null : normalizeAttackSettings(JSON.parse(attacksJson));
    // The row's hash leaves header names out (they have a row of their own): a row naming some was edited.
    if (attacks !== null && attacks.headers.length > 0) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'the attacks row names headers (corrupt or edited file)');
    const baseHash = rulesFileHash(contentHash, attacks);
    if (attacks !== null && meta.get('attacks_hash') !== baseHash) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'attack settings do not match their hash (corrupt or edited file)');
    // No `bots` row: bot detection off. The row carries the catalogue the file was compiled with.
    const botsJson = meta.get('bots');
    const bots = botsJson === undefined ? null : botSettingsFromJson(botsJson);
    const botsHash = botsFileHash(baseHash, bots);
    if (bots !== null && meta.get('bots_hash') !== botsHash) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'bot settings do not match their hash (corrupt or edited file)');
    // No `report_keys` row: the file asks for no keys in reports.
    const reportKeysText = meta.get('report_keys');
    const reportKeys = reportKeysText === undefined ? [] : normalizeReportKeys(parseJsonArray(reportKeysText, 'report_keys'));
    const reportKeysHash = reportKeysFileHash(botsHash, reportKeys);
    if (reportKeys.length > 0 && meta.get('report_keys_hash') !== reportKeysHash) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'report keys do not match their hash (corrupt or edited file)');
    }
    // No `attack_headers` row: attack detection judges only the headers it always does. Written only
    // beside attack settings.
    const headersText = meta.get('attack_headers');
    if (headersText !== undefined) {
      if (attacks === null) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'attack_headers without attack settings (corrupt or edited file)');
      attacks.headers = normalizeHeaderNames(parseJsonArray(headersText, 'attack_headers'));
      if (attacks.headers.length === 0) throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'attack_headers is empty (corrupt or edited file)');
    }
    const hash = attackHeadersFileHash(reportKeysHash, attacks);
    if (attacks !== null && attacks.headers.length > 0 && meta.get('attack_headers_hash') !== hash) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'attack headers do not match their hash (corrupt or edited file)');
    }
    // A file from an older Moat may hold rules the compiler now refuses (a "/" path block, a rate limit
    // under a second): refused whole, like any unusable file, so the rules in force stay in force.
    for (const r of rules) {
      const unsafe = unsafeRuleProblems(r);
      if (unsafe.length > 0) throw new MoatError('MOAT_ERR_FILE_VERSION', `rule ${JSON.stringify(r.id)}: ${unsafe.join('; ')} (recompile the rules with this Moat)`);
    }
    const sets = (name: string) => {
      const rows = db.prepare('SELECT id, members FROM label_sets WHERE set_name = ? ORDER BY id').all(name) as { id: number; members: string }[];
      return rows.map((r, i) => {
        if (r.id !== i) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `label sets of "${name}" are not numbered 0..n-1`);
        const members = JSON.parse(r.members) as number[];
        for (const m of members) if (!Number.isInteger(m) || m < 0 || m >= rules.length) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `label set refers to rule ${m}`);
        return members;
      });
    };
    const index = (name: 'allow' | 'block') => {
      const table = loadRangeTable(db, name);
      const s = sets(name);
      const maxLabel = table.maxLabel();
      if (maxLabel >= s.length) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `range set "${name}" refers to a missing label set`);
      return { table, sets: s };
    };
    const allow = index('allow');
    const block = index('block');
    // Files from before the ranges checksum existed have none; every file Moat writes now has one.
    const rangesHash = meta.get('ranges_hash');
    if (rangesHash !== undefined && ipIndexHash([allow, block]) !== rangesHash) {
      throw new MoatError('MOAT_ERR_FILE_CORRUPT', 'compiled IP ranges do not match their checksum (corrupt or edited file)');
    }
    // The checksum only says the ranges are what someone stored (anyone can recompute it, or delete the
    // row), so decisions come from the ranges the hashed rules compile to, rebuilt here: an edited blob
    // cannot block or allow an address no rule names under the file's unchanged identity, and a file an
    // older Moat wrote (whose ranges may be laid out differently) still loads. Rebuilding 10,000 IP rules
    // (the hub's cap per site) took 70-110 ms (load ~100 → ~180 ms); in managed mode a file that size
    // loads in the worker.
    const rebuilt = { allow: ipIndexFromFlat(flattenIpRules(rules, 'allow'), rules), block: ipIndexFromFlat(flattenIpRules(rules, 'block'), rules) };
    return buildRuleSet(
      rules,
      { path, format: 'moat', formatVersion: version, builtAt: meta.get('built_at') ?? null, hash },
      rebuilt,
      attacks,
      bots,
      reportKeys,
    );
  } catch (e) {
    if (e instanceof MoatFileError) throw e;
    throw new MoatFileError(errorCodeOf(e, 'MOAT_ERR_FILE_CORRUPT'), path, `unreadable rules file: ${(e as Error).message}`, { cause: e });
  }
}

function parseJsonArray(text: string, row: string): unknown[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw new MoatError('MOAT_ERR_FILE_CORRUPT', `${row} is not a JSON array`);
  return value;
}
