/**
 * Small hand-written SVG charts for the report: horizontal bars (optionally on a log scale, with a
 * min–max whisker) and lines. Pure functions: data in, SVG text out.
 */

export interface Bar {
  label: string;
  value: number;
  /** Spread whisker (min–max), in the same unit. */
  lo?: number;
  hi?: number;
  /** Highlight (Moat) or not (baselines). */
  accent?: boolean;
  /** Text printed after the bar; default the value formatted. */
  text?: string;
}

export interface BarChart {
  title: string;
  unit: string;
  bars: Bar[];
  log?: boolean;
  format?: (v: number) => string;
}

const ACCENT = '#1f6feb';
const PLAIN = '#8c959f';
const PALETTE = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#57606a'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const defaultFormat = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3));

export function barChart(c: BarChart): string {
  const fmt = c.format ?? defaultFormat;
  const labelW = Math.min(420, 16 + 6.6 * Math.max(...c.bars.map((b) => b.label.length), 10));
  const plotW = 420;
  const textW = 110;
  const rowH = 26;
  const top = 52;
  const width = Math.round(labelW + plotW + textW);
  const height = top + rowH * c.bars.length + 30;
  const values = c.bars.flatMap((b) => [b.value, b.hi ?? b.value]).filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(...values, 1e-9);
  const min = Math.min(...values, max);
  const lo = c.log ? 10 ** Math.floor(Math.log10(min) - 0.3) : 0;
  const x = (v: number) => {
    if (!(v > 0)) return 0;
    if (!c.log) return (v / max) * plotW;
    return Math.max(0, (Math.log10(v) - Math.log10(lo)) / (Math.log10(max) - Math.log10(lo))) * plotW;
  };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${escapeXml(c.title)}</text>`,
    `<text x="10" y="40" fill="#57606a">${escapeXml(c.unit)}${c.log ? ' (log scale)' : ''}</text>`,
  ];
  c.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = x(b.value);
    out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeXml(b.label)}</text>`);
    out.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.accent ? ACCENT : PLAIN}"/>`);
    if (b.lo !== undefined && b.hi !== undefined) {
      const a = labelW + x(b.lo);
      const z = labelW + x(b.hi);
      const m = y + rowH / 2 - 1;
      out.push(`<path d="M${a.toFixed(1)} ${m}H${z.toFixed(1)}M${a.toFixed(1)} ${m - 4}v8M${z.toFixed(1)} ${m - 4}v8" stroke="#24292f" stroke-width="1"/>`);
    }
    const tx = labelW + Math.max(w, b.hi !== undefined ? x(b.hi) : 0) + 6;
    out.push(`<text x="${tx.toFixed(1)}" y="${y + 15}" fill="#24292f">${escapeXml(b.text ?? fmt(b.value))}</text>`);
  });
  out.push(`<line x1="${labelW}" y1="${top - 2}" x2="${labelW}" y2="${top + rowH * c.bars.length}" stroke="#24292f"/>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  format?: (v: number) => string;
  formatX?: (v: number) => string;
}

export function lineChart(c: LineChart): string {
  const fmt = c.format ?? defaultFormat;
  const fmtX = c.formatX ?? defaultFormat;
  const width = 640;
  const height = 360;
  const left = 70;
  const right = 170;
  const top = 44;
  const bottom = 50;
  const pts = c.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
  const xs = pts.map((p) => (c.logX ? Math.log10(p.x) : p.x));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1e-9);
  const y1 = Math.max(...pts.map((p) => p.y), 1e-9) * 1.1;
  const px = (v: number) => left + (((c.logX ? Math.log10(v) : v) - x0) / (x1 - x0 || 1)) * (width - left - right);
  const py = (v: number) => top + (1 - v / y1) * (height - top - bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${escapeXml(c.title)}</text>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#24292f"/>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#24292f"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle" fill="#57606a">${escapeXml(c.xLabel)}</text>`,
    `<text x="14" y="${(top + height - bottom) / 2}" text-anchor="middle" fill="#57606a" transform="rotate(-90 14 ${(top + height - bottom) / 2})">${escapeXml(c.yLabel)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = (y1 / 4) * k;
    out.push(`<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end" fill="#57606a">${escapeXml(fmt(v))}</text>`);
    out.push(`<line x1="${left}" y1="${py(v)}" x2="${width - right}" y2="${py(v)}" stroke="#eaeef2"/>`);
  }
  for (const xv of [...new Set(pts.map((p) => p.x))]) {
    out.push(`<text x="${px(xv)}" y="${height - bottom + 16}" text-anchor="middle" fill="#57606a">${escapeXml(fmtX(xv))}</text>`);
  }
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const p = s.points.filter((q) => Number.isFinite(q.y));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${p.map((q) => `${px(q.x).toFixed(1)},${py(q.y).toFixed(1)}`).join(' ')}"/>`);
    for (const q of p) out.push(`<circle cx="${px(q.x).toFixed(1)}" cy="${py(q.y).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<rect x="${width - right + 12}" y="${top + i * 20}" width="14" height="3" fill="${color}"/>`);
    out.push(`<text x="${width - right + 32}" y="${top + i * 20 + 5}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
