import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadRulesFile } from '../../format/load-files.js';
import { writeRulesFile } from '../../format/write-rules.js';
import { normalizeRule } from '../../rules/normalize-rule.js';
import { rulesToDocument } from '../../rules/document.js';
import type { Rule, RuleKind } from '../../rules/types.js';
import { RULE_KINDS } from '../../rules/types.js';
import { UserError } from '../user-error.js';

export const rulesHelp = `moat rules add    --rules <file> <allow|block> <kind> <value> [--note t] [--mode monitor] [--expires iso] [--id id]
moat rules add    --rules <file> rateLimit <path> --limit <n> --window <60s> [--method POST] [--prefix]
moat rules list   --rules <file> [--json]
moat rules remove --rules <file> <id> [<id> ...]
  Edits a Moat rules file safely: a new file is written beside it and renamed over it.
  Kinds: ${RULE_KINDS.join(', ')}.`;

function readExisting(path: string): Rule[] {
  if (!existsSync(path)) return [];
  const set = loadRulesFile(path);
  if (set.info.format !== 'moat') throw new UserError(`${path} is a Wafris file; convert it with "moat compile" from an exported document first`);
  return [...set.rules];
}

export function rulesCommand(argv: string[], out: (s: string) => void): void {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      rules: { type: 'string' }, note: { type: 'string' }, mode: { type: 'string' }, expires: { type: 'string' }, id: { type: 'string' },
      limit: { type: 'string' }, window: { type: 'string' }, method: { type: 'string' }, prefix: { type: 'boolean' }, json: { type: 'boolean' },
    },
  });
  if (!values.rules) throw new UserError(`usage:\n${rulesHelp}`, 2);
  const path = values.rules;
  if (sub === 'list') {
    const rules = readExisting(path);
    if (values.json) out(JSON.stringify(rulesToDocument(rules), null, 2));
    else for (const r of rules) out(formatRule(r));
    return;
  }
  if (sub === 'add') {
    let rule: Rule;
    if (positionals[0] === 'rateLimit') {
      if (positionals.length !== 2 || !values.limit || !values.window) throw new UserError(`usage:\n${rulesHelp}`, 2);
      rule = normalizeRule({
        action: 'block', kind: 'rateLimit', value: positionals[1], id: values.id, note: values.note, mode: values.mode as Rule['mode'],
        expires: values.expires,
        rateLimit: { path: positionals[1], method: values.method ?? null, match: values.prefix ? 'prefix' : 'exact', limit: Number(values.limit), window: values.window },
      });
    } else {
      if (positionals.length !== 3) throw new UserError(`usage:\n${rulesHelp}`, 2);
      const [action, kind, value] = positionals;
      rule = normalizeRule({
        action: action as Rule['action'], kind: kind as RuleKind, value, id: values.id, note: values.note, mode: values.mode as Rule['mode'],
        expires: values.expires,
      });
    }
    const rules = readExisting(path);
    if (rules.some((r) => r.id === rule.id)) throw new UserError(`a rule with id ${rule.id} already exists`);
    rules.push(rule);
    writeRulesFile(rules, path);
    out(`added ${formatRule(rule)}`);
    return;
  }
  if (sub === 'remove') {
    if (positionals.length === 0) throw new UserError(`usage:\n${rulesHelp}`, 2);
    const rules = readExisting(path);
    const missing = positionals.filter((id) => !rules.some((r) => r.id === id));
    if (missing.length > 0) throw new UserError(`no rule with id ${missing.join(', ')} in ${path}`);
    const kept = rules.filter((r) => !positionals.includes(r.id));
    writeRulesFile(kept, path);
    out(`removed ${rules.length - kept.length} rule(s); ${kept.length} left`);
    return;
  }
  throw new UserError(`usage:\n${rulesHelp}`, 2);
}

function formatRule(r: Rule): string {
  const extra = [
    r.mode === 'monitor' ? 'monitor' : '',
    r.expires !== undefined ? `expires ${new Date(r.expires).toISOString()}` : '',
    r.rateLimit ? `${r.rateLimit.method ?? 'any'} ${r.rateLimit.limit}/${r.rateLimit.windowMs / 1000}s` : '',
    r.note ? `"${r.note}"` : '',
  ].filter(Boolean).join(' ');
  return `${r.id.padEnd(16)} ${r.action.padEnd(5)} ${r.kind.padEnd(9)} ${r.value}${extra ? `  (${extra})` : ''}`;
}
