/**
 * The few metric kinds the hub exports, in Prometheus's text format (version 0.0.4): counters and
 * histograms with labels, and gauges computed at scrape time. Hand-written because it is small and the
 * hub has no metrics dependency. Every labelled family holds at most `maxSeries` label sets; further ones
 * are counted in one series whose labels are all `_other`, so no request can grow the scrape or memory.
 */

export type Labels = Readonly<Record<string, string>>;

const OTHER = '_other';

/** Label values are escaped as the format asks: backslash, double quote and newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
}

/** Numbers as Prometheus reads them (`+Inf`, no exponent surprises for integers). */
function numberText(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

abstract class Family<S> {
  private readonly series = new Map<string, { labels: Labels; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly maxSeries: number,
  ) {}

  /** The series of these labels, created while under the cap, else the shared `_other` series. */
  protected seriesOf(labels: Labels): S {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      if (this.series.size >= this.maxSeries - 1) return this.seriesOf(this.otherLabels());
      entry = { labels: Object.fromEntries(this.labelNames.map((n) => [n, labels[n] ?? ''])), state: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  private otherLabels(): Labels {
    const other = Object.fromEntries(this.labelNames.map((n) => [n, OTHER]));
    const key = this.labelNames.map(() => OTHER).join('\u0000');
    if (!this.series.has(key)) this.series.set(key, { labels: other, state: this.fresh() });
    return other;
  }

  get size(): number {
    return this.series.size;
  }

  protected abstract fresh(): S;
  protected abstract lines(labels: Labels, state: S): string[];
  protected abstract readonly type: string;

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, state } of this.series.values()) out.push(...this.lines(labels, state));
    return out.join('\n');
  }
}

export class Counter extends Family<{ value: number }> {
  protected readonly type = 'counter';

  inc(labels: Labels = {}, by = 1): void {
    this.seriesOf(labels).value += by;
  }

  /** The value of one series (0 when it was never counted), for tests and derived gauges. */
  get(labels: Labels = {}): number {
    return this.seriesOf(labels).value;
  }

  protected fresh() {
    return { value: 0 };
  }

  protected lines(labels: Labels, state: { value: number }): string[] {
    return [`${this.name}${labelText(labels)} ${numberText(state.value)}`];
  }
}

export class Histogram extends Family<{ counts: number[]; sum: number; count: number }> {
  protected readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[], maxSeries: number, private readonly buckets: readonly number[]) {
    super(name, help, labelNames, maxSeries);
  }

  observe(labels: Labels, value: number): void {
    const state = this.seriesOf(labels);
    state.sum += value;
    state.count += 1;
    // Per bucket, not cumulative: cumulated when rendered, so an observation costs one increment.
    const i = this.buckets.findIndex((upper) => value <= upper);
    state.counts[i === -1 ? this.buckets.length : i]! += 1;
  }

  protected fresh() {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  protected lines(labels: Labels, state: { counts: number[]; sum: number; count: number }): string[] {
    const out: string[] = [];
    let cumulative = 0;
    for (const [i, upper] of [...this.buckets, Infinity].entries()) {
      cumulative += state.counts[i]!;
      out.push(`${this.name}_bucket${labelText({ ...labels, le: numberText(upper) })} ${cumulative}`);
    }
    out.push(`${this.name}_sum${labelText(labels)} ${numberText(state.sum)}`);
    out.push(`${this.name}_count${labelText(labels)} ${state.count}`);
    return out;
  }
}

/** A gauge family whose samples are computed when scraped. */
export function gaugeText(name: string, help: string, samples: readonly { labels: Labels; value: number }[]): string {
  return sampledText('gauge', name, help, samples);
}

/** A counter family whose totals are kept elsewhere (a component's own stats) and read when scraped. */
export function counterText(name: string, help: string, samples: readonly { labels: Labels; value: number }[]): string {
  return sampledText('counter', name, help, samples);
}

function sampledText(type: 'gauge' | 'counter', name: string, help: string, samples: readonly { labels: Labels; value: number }[]): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map((s) => `${name}${labelText(s.labels)} ${numberText(s.value)}`)].join('\n');
}
