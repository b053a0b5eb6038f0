// A compact Moat upsync body built from Wafris-shaped records, the way a Moat client encodes a batch
// (docs/format.md, "Compact upsync"), for tests and measurements of the hub's side. Deliberately plain:
// one dictionary, indexes in record order, t0 the earliest timestamp.

export const COMPACT_TYPE = 'application/vnd.moat.upsync.v1+json';

export interface CompactUpsyncBody {
  meta: Record<string, unknown>;
  n: number;
  t0: number;
  strings: string[];
  columns: Record<string, unknown[]>;
}

interface MonitoredMatch { category: string; rule: string; rule_id: string | null }

const STRING_FIELDS = ['ip', 'user_agent', 'path', 'parameter', 'host', 'method', 'ip_source', 'treatment', 'category', 'rule'] as const;

export function toCompactUpsync(meta: Record<string, unknown>, records: Record<string, unknown>[]): CompactUpsyncBody {
  const strings: string[] = [];
  const indexOf = new Map<string, number>();
  const index = (value: unknown): number => {
    const text = String(value ?? '');
    let at = indexOf.get(text);
    if (at === undefined) {
      at = strings.length;
      strings.push(text);
      indexOf.set(text, at);
    }
    return at;
  };
  const nullable = (value: unknown): number => (value === null || value === undefined ? -1 : index(value));
  const t0 = Math.min(...records.map((r) => Number(r.timestamp)));
  const columns: Record<string, unknown[]> = {};
  for (const field of STRING_FIELDS) columns[field] = records.map((r) => index(r[field]));
  columns.rule_id = records.map((r) => nullable(r.rule_id));
  columns.request_id = records.map((r) => String(r.request_id ?? ''));
  columns.timestamp = records.map((r) => Number(r.timestamp) - t0);
  columns.monitored = records.map((r) => ((r.monitored as MonitoredMatch[] | undefined) ?? []).map((m) => [index(m.category), index(m.rule), nullable(m.rule_id)]));
  return { meta, n: records.length, t0, strings, columns };
}
