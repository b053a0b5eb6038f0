/**
 * The exit codes of `moat-waf`, and the error a user can fix. Scripts tell "you asked for something wrong" (2)
 * from "it could not be done" (1): the first is fixed by changing the command or the rules, the second by
 * fixing the files or the machine. Each error code has its exit code in errors/codes.ts (docs/errors.md).
 */
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, exitCodeOf, type MoatErrorCode } from '../errors/codes.js';
import { MoatError } from '../errors/moat-error.js';

export { EXIT_FAILED, EXIT_OK, EXIT_USAGE };

export const exitCodesHelp = `Exit codes:
  0  done
  1  a file cannot be read or written, or is not a Moat or Wafris file; or an internal error
  2  invalid usage or value: unknown command or option, a missing or invalid value, an invalid rule on the
     command line or in a rules document (syntax included), an unknown rule id, a rejected data source,
     an invalid request line in check --ndjson (each such line gets an error line, the others a decision)`;

/** Printed without a stack trace, one `moat-waf: ` line per problem; the exit code follows from the code. */
export class UserError extends MoatError {
  override readonly name = 'UserError';
  readonly problems: readonly string[];
  readonly exitCode: number;

  constructor(problems: string | readonly string[], code: MoatErrorCode, options?: { cause?: unknown }) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(code, list.join('\n'), options);
    this.problems = list;
    this.exitCode = exitCodeOf(code);
  }
}
