import type { MoatErrorCode } from '../errors/codes.js';
import { MoatError } from '../errors/moat-error.js';

/** A rules or data file that cannot be used: missing, not SQLite, truncated, of an unknown format or version. */
export class MoatFileError extends MoatError {
  override readonly name = 'MoatFileError';
  constructor(code: MoatErrorCode, readonly path: string, message: string, options?: { cause?: unknown }) {
    super(code, `${path}: ${message}`, options);
  }
}
