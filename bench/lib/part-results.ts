/** Helpers shared by the report and its targets: a part's result when it ran, and a signed percentage. */
import type { BenchResults, PartName, PartResults } from '../report.js';

/** The result of part `k`, or undefined when it failed or did not run. */
export function partResult<K extends PartName>(r: BenchResults, k: K): PartResults[K] | undefined {
  const p = r.parts[k];
  return p.status === 'ok' ? (p.result as PartResults[K]) : undefined;
}

/** A change as a signed percentage: −0.05 → "−5.0 %". */
export const signedPercent = (f: number) => `${f >= 0 ? '+' : '−'}${Math.abs(f * 100).toFixed(1)} %`;
