import type { TimeBucket } from '../store/store.js';

export interface ChartSeries {
  t: number[];
  total: number[];
  blocked: number[];
  allowed: number[];
  passed: number[];
  /** Requests a monitor-mode rule would have blocked. */
  monitored: number[];
  /** Bucket size in seconds: what one point counts ("requests per minute"). */
  step: number;
  /** Index of the bucket still filling (it holds "now"), or -1; the chart draws it apart so it never reads as a drop. */
  current: number;
}

/** Buckets as column arrays for uPlot, with empty buckets filled by zeros so the lines stay honest. */
export function toChartSeries(buckets: readonly TimeBucket[], from: number, to: number, step: number, nowSeconds: number): ChartSeries {
  const byTime = new Map(buckets.map((b) => [b.t, b]));
  const out: ChartSeries = { t: [], total: [], blocked: [], allowed: [], passed: [], monitored: [], step, current: -1 };
  for (let t = from; t < to; t += step) {
    const b = byTime.get(t);
    if (t <= nowSeconds && nowSeconds < t + step) out.current = out.t.length;
    out.t.push(t);
    out.total.push(b?.total ?? 0);
    out.blocked.push(b?.blocked ?? 0);
    out.allowed.push(b?.allowed ?? 0);
    out.passed.push(b?.passed ?? 0);
    out.monitored.push(b?.monitored ?? 0);
  }
  return out;
}

const UNIT_NAMES: Record<number, string> = { 60: 'minute', 300: '5 minutes', 3600: 'hour', 10_800: '3 hours', 21_600: '6 hours' };

/** What one point of the chart counts, for the axis: "Requests per 5 minutes". */
export function perStepLabel(step: number): string {
  return `Requests per ${UNIT_NAMES[step] ?? `${step} s`}`;
}
