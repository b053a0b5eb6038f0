/** Timing helpers: several rounds, medians and spread, so one noisy round cannot decide a figure. */
export interface Measurement {
  /** Median nanoseconds per operation over the rounds. */
  ns: number;
  min: number;
  max: number;
  rounds: number;
  opsPerRound: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `op(i)` for `ops` iterations per round, `rounds` times after one warm-up round. */
export function measure(op: (i: number) => unknown, ops: number, rounds: number): Measurement {
  let sink = 0;
  const run = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) if (op(i)) sink++;
    return Number(process.hrtime.bigint() - t0) / ops;
  };
  run(); // warm-up: let the JIT settle before counting
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) per.push(run());
  if (sink === -1) console.log('unreachable'); // keeps the results observable so the loop is not optimised away
  return { ns: median(per), min: Math.min(...per), max: Math.max(...per), rounds, opsPerRound: ops };
}

/** A small deterministic PRNG (mulberry32) so every run builds the same data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fmtNs(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}

/** As measure(), for operations that must be awaited one after another (a network round trip each). */
export async function measureAsync(op: (i: number) => Promise<unknown>, ops: number, rounds: number): Promise<Measurement> {
  let sink = 0;
  const run = async () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) if (await op(i)) sink++;
    return Number(process.hrtime.bigint() - t0) / ops;
  };
  await run();
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) per.push(await run());
  if (sink === -1) console.log('unreachable');
  return { ns: median(per), min: Math.min(...per), max: Math.max(...per), rounds, opsPerRound: ops };
}

/** The p-th percentile (0..100) of `xs`, nearest-rank. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
