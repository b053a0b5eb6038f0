/** The `moat-waf` command: standalone-mode rules files, data files, checks and inspection. */
import { checkCommand, checkHelp } from './commands/check.js';
import { compileCommand, compileHelp } from './commands/compile.js';
import { dataCommand, dataHelp } from './commands/data.js';
import { inspectCommand, inspectHelp } from './commands/inspect.js';
import { rulesCommand, rulesHelp } from './commands/rules.js';
import { wafrisCommand, wafrisHelp } from './commands/wafris.js';
import { RuleError } from '../rules/rule-error.js';
import { MoatError } from '../errors/moat-error.js';
import { exitCodeOf } from '../errors/codes.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UserError, exitCodesHelp } from './user-error.js';

const HELP_OF: ReadonlyMap<string, string> = new Map([
  ['compile', compileHelp], ['rules', rulesHelp], ['check', checkHelp], ['inspect', inspectHelp], ['data', dataHelp], ['wafris', wafrisHelp],
]);

const HELP = `moat-waf — in-app web application firewall

${[...HELP_OF.values()].join('\n\n')}

"moat-waf <command> --help" shows one command.

${exitCodesHelp}`;

/** `--help` or `-h` anywhere before a `--` asks for help, whatever else is on the line. */
function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** What to name in a hint: `moat-waf rules add`, `moat-waf check`. */
function commandName(command: string, rest: readonly string[]): string {
  const sub = rest[0];
  return sub !== undefined && /^[a-z]+$/.test(sub) && ['rules', 'data', 'wafris'].includes(command) ? `moat-waf ${command} ${sub}` : `moat-waf ${command}`;
}

/**
 * node:util parseArgs errors as one line in the user's terms. Its own messages run to two sentences
 * about positionals and `--`, which is noise for a mistyped option.
 */
function parseArgsMessage(e: Error & { code: string }, name: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(e.message);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) return `unknown option ${unknown[1]} for ${name}; run "${name} --help"`;
  const unexpected = /Unexpected argument '([^']*)'/.exec(e.message);
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && unexpected) return `unexpected argument "${unexpected[1]}" for ${name}; run "${name} --help"`;
  return `${e.message.split('\n')[0]}; run "${name} --help"`;
}

export async function run(argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s), input: process.stdin as NodeJS.ReadableStream }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const help = command === undefined ? undefined : HELP_OF.get(command);
    if (help !== undefined && asksForHelp(rest)) {
      io.out(`${help}\n\n${exitCodesHelp}`);
      return EXIT_OK;
    }
    switch (command) {
      case 'compile': compileCommand(rest, io.out); return EXIT_OK;
      case 'rules': rulesCommand(rest, io.out); return EXIT_OK;
      case 'check': return await checkCommand(rest, io.out, io.input);
      case 'inspect': inspectCommand(rest, io.out); return EXIT_OK;
      case 'data': dataCommand(rest, io.out, io.err); return EXIT_OK;
      case 'wafris': wafrisCommand(rest, io.out, io.err); return EXIT_OK;
      case 'help': case '--help': case '-h': {
        const topic = rest[0] === undefined ? undefined : HELP_OF.get(rest[0]);
        if (rest[0] !== undefined && topic === undefined) throw new UserError(`unknown command ${JSON.stringify(rest[0])}; run "moat-waf help"`, 'MOAT_ERR_USAGE');
        io.out(topic === undefined ? HELP : `${topic}\n\n${exitCodesHelp}`);
        return EXIT_OK;
      }
      case undefined: io.err(HELP); return EXIT_USAGE;
      default: throw new UserError(`unknown command ${JSON.stringify(command)}; run "moat-waf help"`, 'MOAT_ERR_USAGE');
    }
  } catch (e) {
    // A Moat error is one line per problem, without a stack trace, and ends with the exit code of its
    // code (errors/codes.ts): 2 for what the user asked wrong, 1 for what could not be done. An internal
    // one is a bug, reported below.
    if (e instanceof MoatError && e.code !== 'MOAT_ERR_INTERNAL') {
      const problems = e instanceof UserError || e instanceof RuleError ? e.problems : [e.message.split('\n')[0]];
      for (const problem of problems) io.err(`moat-waf: ${problem}`);
      return exitCodeOf(e.code);
    }
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`moat-waf: ${parseArgsMessage(e as Error & { code: string }, commandName(command!, rest))}`);
      return EXIT_USAGE;
    }
    // A system or SQLite error (EACCES, ENOSPC, SQLITE_CANTOPEN): an I/O failure, not a bug.
    if (typeof code === 'string' && /^(E[A-Z]+|SQLITE_[A-Z_]+)$/.test(code)) {
      io.err(`moat-waf: ${(e as Error).message.split('\n')[0]}`);
      return EXIT_FAILED;
    }
    io.err(`moat-waf: internal error: ${(e as Error).message}${process.env.MOAT_DEBUG ? `\n${(e as Error).stack}` : ' (set MOAT_DEBUG=1 for details)'}`);
    return EXIT_FAILED;
  }
}
