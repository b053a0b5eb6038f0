import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadRulesFile } from '../../format/load-files.js';
import { writeRulesFile } from '../../format/write-rules.js';
import { normalizeRule } from '../../rules/normalize-rule.js';
import { rulesToDocument } from '../../rules/document.js';
import { ATTACK_CATEGORIES } from '../../attacks/types.js';
import { attackSettingsToDocument, defaultAttackSettings, normalizeAttackSettings, type AttackSettings } from '../../rules/attack-settings.js';
import type { BotSettings } from '../../rules/bot-settings.js';
import { RuleError } from '../../rules/rule-error.js';
import { formatRateLimitKey } from '../../rules/rate-limit-key.js';
import type { Rule, RuleKind } from '../../rules/types.js';
import { RULE_KINDS } from '../../rules/types.js';
import { UserError } from '../user-error.js';

export const rulesHelp = `moat-waf rules add    --rules <file> <allow|block> <kind> <value> [--note t] [--mode monitor] [--expires iso] [--id id]
moat-waf rules add    --rules <file> rateLimit <path> --limit <n> --window <60s> [--method POST] [--prefix] [--key header:x-api-key|cookie:<name>|user]
moat-waf rules list   --rules <file> [--json]
moat-waf rules remove --rules <file> <id> [<id> ...]
moat-waf rules attacks --rules <file> [<category>=<block|monitor|off> ...] [all=<mode>] [--json]
moat-waf rules attacks --rules <file> --exclude <path> [--categories xss,sqli] [--params body.content,query.q]
moat-waf rules attacks --rules <file> --unexclude <path> | --remove
moat-waf rules attacks --rules <file> --headers x-search,x-tenant   (more headers to judge; --headers "" for none)
  Edits a Moat rules file safely: a new file is written beside it and renamed over it; "add" creates the
  file if it does not exist. A rule's id is --id, or one derived from its content ("rules list" shows it).
  Kinds: ${RULE_KINDS.join(', ')}. An invalid value is refused with every problem listed (exit 2).
  "rules attacks" shows or sets attack detection (categories: ${ATTACK_CATEGORIES.join(', ')}). A file
  without attack settings has detection off; the first change turns it on with every category not named
  in monitor. --exclude skips categories (default all) for inputs (default all) on a path ("/x/*" for a
  prefix); --unexclude drops a path's exclusions; --remove drops the settings (detection off). --headers
  sets the request headers judged besides User-Agent, Referer, Cookie and the client-address headers.`;

interface ExistingFile {
  rules: Rule[];
  /** Kept as they are by every edit that does not change them. */
  attacks: AttackSettings | null;
  /** Bot settings, kept likewise (with the catalogue the file carries). */
  bots: BotSettings | null;
}

function readExisting(path: string): ExistingFile {
  if (!existsSync(path)) return { rules: [], attacks: null, bots: null };
  const set = loadRulesFile(path);
  if (set.info.format !== 'moat') throw new UserError(`${path} is a Wafris file; convert it with "moat-waf compile" from an exported document first`, 'MOAT_ERR_FILE_KIND');
  return { rules: [...set.rules], attacks: set.attackSettings, bots: set.botSettings };
}

/** The options each subcommand takes; any other is refused rather than silently ignored. */
const OPTIONS_OF: Record<string, readonly string[]> = {
  add: ['rules', 'note', 'mode', 'expires', 'id', 'limit', 'window', 'method', 'prefix', 'key'],
  list: ['rules', 'json'],
  remove: ['rules'],
  attacks: ['rules', 'json', 'exclude', 'categories', 'params', 'unexclude', 'remove', 'headers'],
};
const RATE_LIMIT_OPTIONS = ['limit', 'window', 'method', 'prefix', 'key'] as const;

export function rulesCommand(argv: string[], out: (s: string) => void): void {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      rules: { type: 'string' }, note: { type: 'string' }, mode: { type: 'string' }, expires: { type: 'string' }, id: { type: 'string' },
      limit: { type: 'string' }, window: { type: 'string' }, method: { type: 'string' }, prefix: { type: 'boolean' }, key: { type: 'string' }, json: { type: 'boolean' },
      exclude: { type: 'string' }, categories: { type: 'string' }, params: { type: 'string' }, unexclude: { type: 'string' }, remove: { type: 'boolean' }, headers: { type: 'string' },
    },
  });
  const allowed = sub !== undefined && Object.hasOwn(OPTIONS_OF, sub) ? OPTIONS_OF[sub] : undefined;
  if (allowed === undefined) {
    const what = sub === undefined || sub.startsWith('-') ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`;
    throw new UserError(`${what}: use add, list, remove or attacks; run "moat-waf rules --help"`, 'MOAT_ERR_USAGE');
  }
  const stray = Object.keys(values).filter((k) => !allowed.includes(k));
  if (stray.length > 0) throw new UserError(`--${stray[0]} does not go with "moat-waf rules ${sub}"; run "moat-waf rules --help"`, 'MOAT_ERR_USAGE');
  if (!values.rules) throw new UserError(`--rules <file> is required; run "moat-waf rules --help"`, 'MOAT_ERR_USAGE');
  const path = values.rules;
  if (sub === 'attacks') {
    attacksCommand(path, positionals, values, out);
    return;
  }
  if (sub === 'add') {
    let rule: Rule;
    if (positionals[0] === 'rateLimit') {
      const limitedPath = positionals[1];
      if (positionals.length !== 2 || limitedPath === undefined || !values.limit || !values.window) throw new UserError(`usage: ${usageLine('rateLimit')}`, 'MOAT_ERR_USAGE');
      rule = normalizeRule({
        action: 'block', kind: 'rateLimit', value: limitedPath, id: values.id, note: values.note, mode: values.mode as Rule['mode'],
        expires: values.expires,
        rateLimit: {
          path: limitedPath, method: values.method ?? null, match: values.prefix ? 'prefix' : 'exact', window: values.window, key: values.key,
          // A number only when it is written as one, so the error quotes what was typed ("5.5", "ten").
          limit: (/^\d+$/.test(values.limit) ? Number(values.limit) : values.limit) as number,
        },
      });
    } else {
      const [action, kind, value] = positionals;
      if (positionals.length !== 3 || value === undefined) throw new UserError(`usage: ${usageLine('add ')}`, 'MOAT_ERR_USAGE');
      const rateOnly = RATE_LIMIT_OPTIONS.find((k) => values[k] !== undefined);
      if (rateOnly) throw new UserError(`--${rateOnly} goes with "moat-waf rules add ... rateLimit <path>" only`, 'MOAT_ERR_USAGE');
      rule = normalizeRule({
        action: action as Rule['action'], kind: kind as RuleKind, value, id: values.id, note: values.note, mode: values.mode as Rule['mode'],
        expires: values.expires,
      });
    }
    const { rules, attacks, bots } = readExisting(path);
    if (rules.some((r) => r.id === rule.id)) throw new UserError(`a rule with id ${rule.id} already exists`, 'MOAT_ERR_RULE_INVALID');
    rules.push(rule);
    writeRulesFile(rules, path, { attacks, bots });
    out(`added ${formatRule(rule)}`);
    return;
  }
  if (sub === 'remove') {
    if (positionals.length === 0) throw new UserError(`usage: ${usageLine('remove')}`, 'MOAT_ERR_USAGE');
    const { rules, attacks, bots } = readExisting(path);
    const missing = positionals.filter((id) => !rules.some((r) => r.id === id));
    if (missing.length > 0) throw new UserError(`no rule with id ${missing.join(', ')} in ${path}`, 'MOAT_ERR_USAGE');
    const kept = rules.filter((r) => !positionals.includes(r.id));
    writeRulesFile(kept, path, { attacks, bots });
    out(`removed ${rules.length - kept.length} rule(s); ${kept.length} left`);
    return;
  }
  if (positionals.length > 0) throw new UserError(`unexpected argument ${JSON.stringify(positionals[0])}; run "moat-waf rules --help"`, 'MOAT_ERR_USAGE');
  const { rules, attacks, bots } = readExisting(path);
  if (values.json) out(JSON.stringify(rulesToDocument(rules, attacks, bots), null, 2));
  else for (const r of rules) out(formatRule(r));
}

interface AttackOptions {
  json?: boolean;
  exclude?: string;
  categories?: string;
  params?: string;
  unexclude?: string;
  remove?: boolean;
  headers?: string;
}

/** `rules attacks`: shows the attack settings, or changes modes and exclusions and writes the file. */
function attacksCommand(path: string, args: string[], values: AttackOptions, out: (s: string) => void): void {
  const existing = readExisting(path);
  const changes = args.length > 0 || values.exclude !== undefined || values.unexclude !== undefined || values.remove === true ||
    values.headers !== undefined;
  if ((values.categories !== undefined || values.params !== undefined) && values.exclude === undefined) {
    throw new UserError('--categories and --params go with --exclude <path>', 'MOAT_ERR_USAGE');
  }
  if (!changes) {
    if (values.json) out(JSON.stringify(existing.attacks === null ? null : attackSettingsToDocument(existing.attacks), null, 2));
    else out(describeAttacks(existing.attacks));
    return;
  }
  let attacks: AttackSettings | null;
  if (values.remove) {
    if (args.length > 0 || values.exclude !== undefined || values.unexclude !== undefined || values.headers !== undefined) {
      throw new UserError('--remove goes alone', 'MOAT_ERR_USAGE');
    }
    attacks = null;
  } else {
    // Built as a document and validated as one, so the CLI refuses exactly what a rules document would.
    const doc = attackSettingsToDocument(existing.attacks ?? defaultAttackSettings());
    for (const arg of args) {
      const eq = arg.indexOf('=');
      if (eq <= 0) throw new UserError(`expected <category>=<mode>, got ${JSON.stringify(arg)}`, 'MOAT_ERR_USAGE');
      const key = arg.slice(0, eq);
      const mode = arg.slice(eq + 1);
      if (key === 'all') for (const c of ATTACK_CATEGORIES) doc[c] = mode;
      else doc[key] = mode;
    }
    let exclude = (doc.exclude as Record<string, unknown>[] | undefined) ?? [];
    if (values.unexclude !== undefined) {
      const before = exclude.length;
      exclude = exclude.filter((e) => e.path !== values.unexclude!.toLowerCase());
      if (exclude.length === before) throw new UserError(`no exclusion for ${values.unexclude} in ${path}`, 'MOAT_ERR_USAGE');
    }
    if (values.exclude !== undefined) {
      exclude.push({ path: values.exclude, categories: splitList(values.categories), params: splitList(values.params) });
    }
    doc.exclude = exclude;
    if (values.headers !== undefined) doc.headers = splitList(values.headers);
    try {
      attacks = normalizeAttackSettings(doc);
    } catch (e) {
      if (e instanceof RuleError) throw new UserError(e.message, e.code, { cause: e });
      throw e;
    }
  }
  writeRulesFile(existing.rules, path, { attacks, bots: existing.bots });
  out(describeAttacks(attacks));
}

function splitList(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function describeAttacks(attacks: AttackSettings | null): string {
  if (attacks === null) return 'attack detection: off (no settings in this file)';
  const lines = ATTACK_CATEGORIES.map((c) => `${c.padEnd(10)} ${attacks.modes[c]}`);
  for (const e of attacks.exclusions) {
    lines.push(`exclude ${e.path}: ${e.categories.length > 0 ? e.categories.join(',') : 'all categories'} in ${e.params.length > 0 ? e.params.join(',') : 'every input'}`);
  }
  if (attacks.headers.length > 0) lines.push(`headers    ${attacks.headers.join(', ')} (besides those always judged)`);
  return lines.join('\n');
}

/** The usage line of the help that contains `marker`, without the padding. */
function usageLine(marker: string): string {
  return rulesHelp.split('\n').find((l) => l.includes(marker))!.replace(/\s+/g, ' ');
}

function formatRule(r: Rule): string {
  const extra = [
    r.mode === 'monitor' ? 'monitor' : '',
    r.expires !== undefined ? `expires ${new Date(r.expires).toISOString()}` : '',
    r.rateLimit ? `${r.rateLimit.method ?? 'any'} ${r.rateLimit.limit}/${r.rateLimit.windowMs / 1000}s${r.rateLimit.key ? ` per ${formatRateLimitKey(r.rateLimit.key)}` : ''}` : '',
    r.note ? `"${r.note}"` : '',
  ].filter(Boolean).join(' ');
  return `${r.id.padEnd(16)} ${r.action.padEnd(5)} ${r.kind.padEnd(9)} ${r.value}${extra ? `  (${extra})` : ''}`;
}
