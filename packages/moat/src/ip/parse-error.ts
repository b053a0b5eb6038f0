// The error thrown by the strict parsers. It quotes the input (escaped and shortened) so that log lines
// show what was wrong without letting a hostile header inject control characters or megabytes of text.

import { MoatError } from '../errors/moat-error.js';

const QUOTED_LIMIT = 80;

function quote(input: string): string {
  if (input.length <= QUOTED_LIMIT) return JSON.stringify(input);
  return `${JSON.stringify(input.slice(0, QUOTED_LIMIT))}… (${input.length} characters)`;
}

export class IpParseError extends MoatError {
  override readonly name = 'IpParseError';
  /** The text that failed to parse, unshortened. */
  readonly input: string;

  /** `what` names the expected thing ("IP address", "IP range"); `reason` says why, when known. */
  constructor(input: string, reason?: string, what = 'IP address') {
    const text = String(input);
    super('MOAT_ERR_IP_INVALID', `invalid ${what} ${quote(text)}${reason ? `: ${reason}` : ''}`);
    this.input = text;
  }
}
