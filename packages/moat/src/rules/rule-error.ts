/** A user error in a rule or rules document: the message names the entry, and is meant to be shown as it is. */
export class RuleError extends Error {
  override readonly name = 'RuleError';
}
