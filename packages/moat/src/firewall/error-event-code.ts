import type { MoatErrorCode } from '../errors/codes.js';
import { errorCodeOf } from '../errors/moat-error.js';
import type { MoatErrorKind } from './options.js';

/**
 * The code of an error event. An engine failure or a throwing hook is that, whatever was thrown (a hook
 * calling into Moat must not pass for a Moat failure); the other kinds keep the error's own code when it
 * has one (a missing rules file at start is MOAT_ERR_FILE_MISSING).
 */
export function errorEventCode(kind: MoatErrorKind, error: Error): MoatErrorCode {
  switch (kind) {
    case 'engine': return 'MOAT_ERR_ENGINE';
    case 'hook': return 'MOAT_ERR_HOOK';
    case 'startup': return errorCodeOf(error, 'MOAT_ERR_STARTUP');
    case 'configuration': return errorCodeOf(error, 'MOAT_ERR_OPTION_INVALID');
    case 'rateLimitStore': return 'MOAT_ERR_RATE_LIMIT_STORE';
  }
}
