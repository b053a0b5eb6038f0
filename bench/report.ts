/** Turns bench results into a readable markdown report. */
import { fmtNs } from './lib/measure.js';
import type { Row } from './engine-bench.js';

interface Results {
  date: string;
  quick: boolean;
  machine: Record<string, unknown>;
  engine: { rows: Row[]; builds: Record<string, unknown>[] };
}

export function engineReport(r: Results): string {
  const lines = [
    `# Moat benchmark, ${r.date}${r.quick ? ' (quick run: sizes too small for conclusions)' : ''}`,
    '',
    `Machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    'Rerun with `npm run bench`. Each figure is the median of several rounds (min–max in brackets); speed-ups are',
    'against the Wafris v2 design measured in the same run.',
    '',
    '## Engine',
    '',
    '| case | size | approach | per request | spread | vs Wafris | missed hits |',
    '|---|---:|---|---:|---|---:|---:|',
  ];
  for (const row of r.engine.rows) {
    lines.push(`| ${row.case} | ${row.size.toLocaleString('en')} | ${row.approach} | ${fmtNs(row.m.ns)} | ${fmtNs(row.m.min)}–${fmtNs(row.m.max)} | ${
      row.speedup === undefined ? '' : `${row.speedup.toFixed(1)}×`} | ${row.missed ?? ''} |`);
  }
  lines.push('', '## Builds', '', '| ranges | Moat build | Moat file | Wafris-style build | Wafris-style file |', '|---:|---:|---:|---:|---:|');
  for (const b of r.engine.builds) {
    const mb = (x: unknown) => `${((x as number) / 2 ** 20).toFixed(1)} MiB`;
    lines.push(`| ${(b.ranges as number).toLocaleString('en')} | ${(b.moatBuildSeconds as number).toFixed(1)} s | ${mb(b.moatBytes)} | ${(b.wafrisBuildSeconds as number).toFixed(1)} s | ${mb(b.wafrisBytes)} |`);
  }
  return `${lines.join('\n')}\n`;
}
