/**
 * The exit codes of `moat-waf`, and the error a user can fix. Scripts tell "you asked for something wrong" (2)
 * from "it could not be done" (1): the first is fixed by changing the command or the rules, the second by
 * fixing the files or the machine.
 */
export const EXIT_OK = 0;
/** A file cannot be read or written or is not a Moat or Wafris file, or an internal error. */
export const EXIT_FAILED = 1;
/** Invalid usage or value: on the command line, in a rules document or in a replayed request line. */
export const EXIT_USAGE = 2;

export const exitCodesHelp = `Exit codes:
  0  done
  1  a file cannot be read or written, or is not a Moat or Wafris file; or an internal error
  2  invalid usage or value: unknown command or option, a missing or invalid value, an invalid rule on the
     command line or in a rules document (syntax included), an unknown rule id, a rejected data source,
     an invalid request line in check --ndjson (each such line gets an error line, the others a decision)`;

/** Printed without a stack trace, one `moat-waf: ` line per problem. */
export class UserError extends Error {
  override readonly name = 'UserError';
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[], readonly exitCode: number = EXIT_FAILED) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}
