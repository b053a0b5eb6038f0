/** The ranges the dashboard offers, with the chart's bucket size for each (≤ ~360 points). */
export const RANGES = {
  '1h': { seconds: 3600, step: 60 },
  '6h': { seconds: 6 * 3600, step: 60 },
  '24h': { seconds: 86_400, step: 300 },
  '7d': { seconds: 7 * 86_400, step: 3600 },
  '30d': { seconds: 30 * 86_400, step: 3 * 3600 },
  '90d': { seconds: 90 * 86_400, step: 6 * 3600 },
} as const;

export type RangeName = keyof typeof RANGES;
export const RANGE_NAMES = Object.keys(RANGES) as RangeName[];
export const DEFAULT_RANGE: RangeName = '24h';

export interface TimeWindow {
  name: RangeName;
  /** Inclusive start, Unix seconds, aligned to the step. */
  from: number;
  /** Exclusive end, Unix seconds: the end of the current step. */
  to: number;
  step: number;
}

export function parseRange(name: unknown): RangeName {
  return typeof name === 'string' && name in RANGES ? (name as RangeName) : DEFAULT_RANGE;
}

/** The window ending with the current bucket, so the newest minute shows as it fills. */
export function windowFor(name: RangeName, nowSeconds: number): TimeWindow {
  const { seconds, step } = RANGES[name];
  const to = nowSeconds - (nowSeconds % step) + step;
  return { name, from: to - seconds, to, step };
}
