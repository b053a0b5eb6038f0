/**
 * The brakes on automatic bans, pure and clocked by the caller: a cap on standing bans per site and mode,
 * a rate of new bans per rule and minute, and at most one event per rule, kind and minute (so a flood of
 * refusals is visible without flooding the event list). All state is bounded by the number of rules.
 */
export class BanBrakes {
  private readonly perRule = new Map<number, { minute: number; bans: number }>();
  private readonly lastEvent = new Map<string, number>();

  /** Counts one new ban of `ruleId` at `nowSeconds` when the rule's rate allows it; false when it does not. */
  takeBan(ruleId: number, maxPerMinute: number, nowSeconds: number): boolean {
    const minute = Math.floor(nowSeconds / 60);
    let slot = this.perRule.get(ruleId);
    if (!slot || slot.minute !== minute) {
      slot = { minute, bans: 0 };
      this.perRule.set(ruleId, slot);
    }
    if (slot.bans >= maxPerMinute) return false;
    slot.bans += 1;
    return true;
  }

  /** Whether an event of this kind for this rule should be written now (the first one of its minute). */
  eventDue(ruleId: number, kind: string, nowSeconds: number): boolean {
    const key = `${ruleId}|${kind}`;
    const minute = Math.floor(nowSeconds / 60);
    if (this.lastEvent.get(key) === minute) return false;
    this.lastEvent.set(key, minute);
    return true;
  }

  forgetRule(ruleId: number): void {
    this.perRule.delete(ruleId);
    for (const key of this.lastEvent.keys()) if (key.startsWith(`${ruleId}|`)) this.lastEvent.delete(key);
  }
}
