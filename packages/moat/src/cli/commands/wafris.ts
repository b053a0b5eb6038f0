import { parseArgs } from 'node:util';
import { loadRulesFile } from '../../format/load-files.js';
import { writeWafrisRulesFile } from '../../wafris/write-wafris.js';
import { UserError } from '../user-error.js';
import { refuseOutputsOverInputs } from '../output-paths.js';

export const wafrisHelp = `moat-waf wafris export --rules <file> -o <custom_rules.db>
  Writes the rules as a Wafris v2 custom_rules file, for Wafris clients. Rules Wafris cannot express
  (monitor mode, expired, list and ASN rules, prefix rate limits) are left out, each named on stderr.
  "moat-waf inspect" on the result reports the same rule count.`;

export function wafrisCommand(argv: string[], out: (s: string) => void, warn: (s: string) => void): void {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { rules: { type: 'string' }, out: { type: 'string', short: 'o' } } });
  if (sub !== 'export' || !values.rules || !values.out) throw new UserError(`usage: ${wafrisHelp.split('\n')[0]}`, 'MOAT_ERR_USAGE');
  refuseOutputsOverInputs([['-o', values.out]], [['--rules', values.rules]]);
  const set = loadRulesFile(values.rules);
  const written = writeWafrisRulesFile(set.rules, values.out);
  for (const s of written.skipped) warn(`not exported: ${s.id}: ${s.reason}`);
  const exported = set.rules.length - written.skipped.length;
  out(`wrote ${values.out} (Wafris custom_rules): ${exported} rules` +
    (written.skipped.length > 0 ? `, ${written.skipped.length} of ${set.rules.length} not exported (named above)` : ''));
}
