/** A rules or data file that cannot be used: missing, not SQLite, truncated, of an unknown format or version. */
export class MoatFileError extends Error {
  override readonly name = 'MoatFileError';
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
  }
}
