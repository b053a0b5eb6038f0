/**
 * Comparisons over paired rounds: every round measures each variant back to back, so a variant is
 * compared with the baseline of its own round and the median is taken over those per-round figures.
 * Pairing cancels the machine's slow drift, which moves whole rounds by ±10 % on a shared machine and
 * made a ratio of medians swing by several points between runs.
 */
import { median } from './measure.js';

/** A median over the rounds with the quartiles that show how sure it is. */
export interface PairedFigure {
  median: number;
  /** First and third quartile of the per-round figures. */
  spread: [number, number];
}

/** First and third quartile (nearest rank). */
export function quartiles(xs: readonly number[]): [number, number] {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return [at(0.25), at(0.75)];
}

function summary(perRound: number[]): PairedFigure {
  return { median: median(perRound), spread: quartiles(perRound) };
}

/** variant / base − 1 per round: −0.05 means 5 % less than the baseline of the same round. */
export function pairedChange(variant: readonly number[], base: readonly number[]): PairedFigure {
  return summary(variant.map((v, k) => v / base[k]! - 1));
}

/** variant − base per round, in the unit of the inputs. */
export function pairedDifference(variant: readonly number[], base: readonly number[]): PairedFigure {
  return summary(variant.map((v, k) => v - base[k]!));
}
