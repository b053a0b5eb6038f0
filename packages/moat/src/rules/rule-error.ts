import { MoatError } from '../errors/moat-error.js';

/**
 * A user error in a rule or rules document, meant to be shown as it is. A document can have several:
 * `problems` lists every one (each naming its file, line and entry), and the message is them, one a line.
 */
export class RuleError extends MoatError {
  override readonly name = 'RuleError';
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super('MOAT_ERR_RULE_INVALID', list.join('\n'));
    this.problems = list;
  }

  /** Runs `part`, adding the problems of a RuleError it throws to `into` (anything else propagates). */
  static collect<T>(into: string[], part: () => T, prefix = ''): T | undefined {
    try {
      return part();
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      for (const p of e.problems) into.push(prefix + p);
      return undefined;
    }
  }
}
