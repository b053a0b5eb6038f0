/**
 * Waits until `condition` holds, polling; throws naming `what` after `guardMs` (a guard against a test
 * that would hang, not a speed check: the conditions hold in milliseconds on a healthy run).
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, guardMs = 30_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
