import { MoatError } from '../errors/moat-error.js';

/** Why the shared rate-limit store did not answer a request (the local limiter answered instead). */
export type RateLimitFallbackReason = 'timeout' | 'error' | 'cooldown';

export class RateLimitStoreError extends MoatError {
  override readonly name = 'RateLimitStoreError';
  constructor(readonly reason: RateLimitFallbackReason, message: string, options?: { cause?: unknown }) {
    super('MOAT_ERR_RATE_LIMIT_STORE', message, options);
  }
}
