/** An error the user can fix: printed as one line, no stack trace, exit code 1 (2 for usage). */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
