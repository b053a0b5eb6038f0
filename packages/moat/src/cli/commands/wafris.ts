import { parseArgs } from 'node:util';
import { loadRulesFile } from '../../format/load-files.js';
import { writeWafrisRulesFile } from '../../wafris/write-wafris.js';
import { UserError } from '../user-error.js';

export const wafrisHelp = `moat wafris export --rules <file> -o <custom_rules.db>
  Writes the rules as a Wafris v2 custom_rules file, for Wafris clients.`;

export function wafrisCommand(argv: string[], out: (s: string) => void, warn: (s: string) => void): void {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { rules: { type: 'string' }, out: { type: 'string', short: 'o' } } });
  if (sub !== 'export' || !values.rules || !values.out) throw new UserError(`usage: ${wafrisHelp.split('\n')[0]}`, 2);
  const set = loadRulesFile(values.rules);
  const written = writeWafrisRulesFile(set.rules, values.out);
  for (const s of written.skipped) warn(`not exported: ${s.id}: ${s.reason}`);
  out(`wrote ${values.out} (Wafris custom_rules, ${set.rules.length - written.skipped.length} rules)`);
}
