import type { TimeBucket } from '../store/store.js';

export interface ChartSeries {
  t: number[];
  total: number[];
  blocked: number[];
  allowed: number[];
  passed: number[];
}

/** Buckets as column arrays for uPlot, with empty buckets filled by zeros so the lines stay honest. */
export function toChartSeries(buckets: readonly TimeBucket[], from: number, to: number, step: number): ChartSeries {
  const byTime = new Map(buckets.map((b) => [b.t, b]));
  const out: ChartSeries = { t: [], total: [], blocked: [], allowed: [], passed: [] };
  for (let t = from; t < to; t += step) {
    const b = byTime.get(t);
    out.t.push(t);
    out.total.push(b?.total ?? 0);
    out.blocked.push(b?.blocked ?? 0);
    out.allowed.push(b?.allowed ?? 0);
    out.passed.push(b?.passed ?? 0);
  }
  return out;
}
