import type { MoatErrorCode } from './codes.js';

/**
 * The base of every error Moat throws or emits. Match on `code` (stable, listed in docs/errors.md), not on
 * the message, which may change. `cause` carries the underlying error where there is one.
 */
export class MoatError extends Error {
  override readonly name: string = 'MoatError';
  constructor(readonly code: MoatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An invalid option or argument given to a Moat function or constructor (MOAT_ERR_OPTION_INVALID). */
export class OptionError extends MoatError {
  override readonly name: string = 'OptionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_OPTION_INVALID', message, options);
  }
}

/** A rules or data file that cannot be used: missing, not SQLite, truncated, of an unknown format or version. */
export class MoatFileError extends MoatError {
  override readonly name = 'MoatFileError';
  constructor(code: MoatErrorCode, readonly path: string, message: string, options?: { cause?: unknown }) {
    super(code, `${path}: ${message}`, options);
  }
}

/**
 * A compressed body whose turn to be inflated did not come: too many were waiting (http/inflate-gate.ts).
 * The request was not judged (MOAT_ERR_BODY_BUSY).
 */
export class BodyBusyError extends MoatError {
  override readonly name = 'BodyBusyError';
  constructor() {
    super('MOAT_ERR_BODY_BUSY', 'too many brotli request bodies are waiting to be inflated; this one was not judged');
  }
}

/** The code of any thrown value: its own for a MoatError, else `otherwise` (a system, SQLite or foreign error). */
export function errorCodeOf(error: unknown, otherwise: MoatErrorCode): MoatErrorCode {
  return error instanceof MoatError ? error.code : otherwise;
}
