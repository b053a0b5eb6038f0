/** Marker for "the budget ran out first". */
export const OUT_OF_TIME: unique symbol = Symbol('out of time');

/**
 * Settles with `work`'s value, or with OUT_OF_TIME after `budgetMs`, whichever comes first; a later
 * rejection of `work` is absorbed (race already listens to it), so nothing goes unhandled.
 */
export async function withinBudget<T>(work: Promise<T>, budgetMs: number): Promise<T | typeof OUT_OF_TIME> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof OUT_OF_TIME>((resolve) => {
    timer = setTimeout(resolve, budgetMs, OUT_OF_TIME);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
