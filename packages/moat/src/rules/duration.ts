import { RuleError } from './rule-error.js';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type DurationUnit = keyof typeof UNITS;

/** Parses a window such as `60s`, `1m`, `1h`, `500ms` or a number of seconds into milliseconds. */
export function parseDuration(input: string | number, what = 'window'): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input > 0) return Math.round(input * 1000);
    throw new RuleError(`${what} must be a positive number of seconds, got ${input}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(input);
  if (!m) throw new RuleError(`${what} must look like "60s", "5m" or "1h", got ${JSON.stringify(input)}`);
  const ms = Math.round(Number(m[1]) * UNITS[(m[2] ?? 's') as DurationUnit]); // the pattern admits only these units
  if (ms <= 0) throw new RuleError(`${what} must be positive, got ${JSON.stringify(input)}`);
  return ms;
}

/** The shortest exact text for a duration in ms (`60000` → `1m`), for exports. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
