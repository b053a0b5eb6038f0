/** A failed sync step with a short machine-readable reason for status() and the logs. */
export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
