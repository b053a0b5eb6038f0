/** The `moat` command: standalone-mode rules files, data files, checks and inspection. */
import { checkCommand, checkHelp } from './commands/check.js';
import { compileCommand, compileHelp } from './commands/compile.js';
import { dataCommand, dataHelp } from './commands/data.js';
import { inspectCommand, inspectHelp } from './commands/inspect.js';
import { rulesCommand, rulesHelp } from './commands/rules.js';
import { wafrisCommand, wafrisHelp } from './commands/wafris.js';
import { RuleError } from '../rules/rule-error.js';
import { MoatFileError } from '../format/moat-file-error.js';
import { IpParseError } from '../ip/address.js';
import { UserError } from './user-error.js';

const HELP = `moat — in-app web application firewall

${compileHelp}

${rulesHelp}

${checkHelp}

${inspectHelp}

${dataHelp}

${wafrisHelp}`;

export async function run(argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s), input: process.stdin as NodeJS.ReadableStream }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'compile': compileCommand(rest, io.out); return 0;
      case 'rules': rulesCommand(rest, io.out); return 0;
      case 'check': return await checkCommand(rest, io.out, io.input);
      case 'inspect': inspectCommand(rest, io.out); return 0;
      case 'data': dataCommand(rest, io.out, io.err); return 0;
      case 'wafris': wafrisCommand(rest, io.out, io.err); return 0;
      case undefined: case 'help': case '--help': case '-h': io.out(HELP); return command === undefined ? 2 : 0;
      default: throw new UserError(`unknown command ${JSON.stringify(command)}; run "moat help"`, 2);
    }
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`moat: ${e.message}`);
      return e.exitCode;
    }
    // Errors caused by input (bad rules, bad files, bad options) are one line; anything else is a bug.
    if (e instanceof RuleError || e instanceof MoatFileError || e instanceof IpParseError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`moat: ${(e as Error).message}`);
      return (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
    }
    io.err(`moat: internal error: ${(e as Error).message}${process.env.MOAT_DEBUG ? `\n${(e as Error).stack}` : ' (set MOAT_DEBUG=1 for details)'}`);
    return 70;
  }
}

