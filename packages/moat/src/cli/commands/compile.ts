import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRulesSource } from '../../rules/document.js';
import { writeRulesFile } from '../../format/write-rules.js';
import { jsonSyntaxProblem } from '../json-syntax.js';
import { UserError } from '../user-error.js';
import { refuseOutputsOverInputs } from '../output-paths.js';

export const compileHelp = `moat-waf compile <rules.json|rules.yaml> -o <rules.db>
  Compiles a rules document into a Moat rules file (written to a temporary name, then renamed). Every
  problem of the document is listed, each with its line and entry (exit 2), and nothing is written.`;

export function compileCommand(argv: string[], out: (s: string) => void): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string', short: 'o' } } });
  const src = positionals[0];
  if (positionals.length !== 1 || src === undefined || !values.out) throw new UserError(`usage: ${compileHelp.split('\n')[0]}`, 'MOAT_ERR_USAGE');
  refuseOutputsOverInputs([['-o', values.out]], [['the rules document', src]]);
  let text: string;
  try {
    text = readFileSync(src, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${src}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'MOAT_ERR_FILE_MISSING' : 'MOAT_ERR_FILE_UNREADABLE', { cause: e });
  }
  if (extname(src).toLowerCase() === '.json') {
    const problem = jsonSyntaxProblem(text, basename(src));
    if (problem !== null) throw new UserError(problem, 'MOAT_ERR_RULE_INVALID');
  }
  const { rules, attacks, bots } = parseRulesSource(text, basename(src));
  const written = writeRulesFile(rules, values.out, { attacks, bots });
  const counts = Object.entries(written.counts).map(([k, n]) => `${k} ${n}`).join(', ');
  out(`compiled ${rules.length} rules into ${values.out} (${counts || 'no rules'})${attacks === null ? '' : '; attack detection settings included'}${bots === null ? '' : '; bot settings included'}; hash ${written.hash.slice(0, 16)}`);
}
