// A stand-in decoder of the compact Moat upsync encoding, written from the contract (not from the
// client's encoder), strict about everything the contract says: it expands a batch into the Wafris
// records it stands for, or throws.
export const COMPACT_TYPE = 'application/vnd.moat.upsync.v2+json';

/** A count of Passed requests of one key, as the contract's `aggregates` section holds it. */
export interface PassedCountEntry {
  ip: string; user_agent: string; path: string; host: string; method: string; timestamp: number; count: number;
}

const INDEX_COLUMNS = ['ip', 'user_agent', 'path', 'parameter', 'host', 'method', 'ip_source', 'treatment', 'category', 'rule'] as const;

export function expandCompact(body: unknown): { meta: Record<string, string>; batch: Record<string, unknown>[]; aggregates: PassedCountEntry[] } {
  const fail = (why: string): never => { throw new Error(`bad compact batch: ${why}`); };
  if (typeof body !== 'object' || body === null) fail('not an object');
  const b = body as Record<string, unknown>;
  const meta = b.meta as Record<string, string>;
  if (typeof meta !== 'object' || meta === null) fail('meta');
  const n = b.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) fail('n');
  const count = n as number;
  if (typeof b.t0 !== 'number' || !Number.isInteger(b.t0)) fail('t0');
  const strings = b.strings;
  if (!Array.isArray(strings) || !strings.every((s) => typeof s === 'string')) fail('strings');
  const dict = strings as string[];
  const columns = b.columns as Record<string, unknown[]>;
  if (typeof columns !== 'object' || columns === null) fail('columns');
  const column = (name: string) => {
    const c = columns[name];
    if (!Array.isArray(c) || c.length !== count) fail(`column ${name} must hold ${count} entries`);
    return c;
  };
  const str = (i: unknown, nullable = false): string | null => {
    if (nullable && i === -1) return null;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= dict.length) fail(`index ${String(i)} out of range`);
    return dict[i as number];
  };
  for (const name of INDEX_COLUMNS) column(name);
  const ruleIds = column('rule_id');
  const requestIds = column('request_id');
  const timestamps = column('timestamp');
  const monitored = column('monitored');
  const batch: Record<string, unknown>[] = [];
  for (let k = 0; k < count; k++) {
    if (typeof requestIds[k] !== 'string') fail('request_id');
    const offset = timestamps[k];
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) fail('timestamp');
    const m = monitored[k];
    if (!Array.isArray(m)) fail('monitored');
    const record: Record<string, unknown> = {};
    for (const name of INDEX_COLUMNS) record[name] = str(columns[name][k]);
    record.rule_id = str(ruleIds[k], true);
    record.request_id = requestIds[k];
    record.timestamp = (b.t0 as number) + (offset as number);
    record.monitored = (m as unknown[]).map((entry) => {
      if (!Array.isArray(entry) || entry.length !== 3) fail('monitored entry');
      const [category, rule, ruleId] = entry as unknown[];
      return { category: str(category), rule: str(rule), rule_id: str(ruleId) };
    });
    // The Wafris record's key order, so a compact batch and a Wafris one compare equal as JSON.
    batch.push({
      ip: record.ip, user_agent: record.user_agent, path: record.path, parameter: record.parameter, host: record.host, method: record.method,
      request_id: record.request_id, timestamp: record.timestamp, treatment: record.treatment, category: record.category, rule: record.rule,
      rule_id: record.rule_id, monitored: record.monitored, ip_source: record.ip_source,
    });
    // Optional column: the response status, -1 when the client did not capture it (left out of the record, as Wafris JSON does).
    if (columns.status !== undefined) {
      const status = column('status')[k];
      if (typeof status !== 'number' || !Number.isInteger(status) || (status !== -1 && (status < 100 || status > 999))) fail('status');
      if (status !== -1) batch[batch.length - 1]!.status = status;
    }
  }
  const aggregates: PassedCountEntry[] = [];
  if (b.aggregates !== undefined) {
    const a = b.aggregates as Record<string, unknown[]> & { n: unknown };
    const m = a.n;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) fail('aggregates.n');
    for (const name of ['ip', 'user_agent', 'path', 'host', 'method', 'timestamp', 'count']) {
      if (!Array.isArray(a[name]) || a[name].length !== m) fail(`aggregates.${name} must hold ${String(m)} entries`);
    }
    for (let k = 0; k < (m as number); k++) {
      const count = a.count[k];
      const offset = a.timestamp[k];
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) fail('aggregates.count');
      if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) fail('aggregates.timestamp');
      aggregates.push({
        ip: str(a.ip[k])!, user_agent: str(a.user_agent[k])!, path: str(a.path[k])!, host: str(a.host[k])!, method: str(a.method[k])!,
        timestamp: (b.t0 as number) + (offset as number), count: count as number,
      });
    }
  }
  if (count + aggregates.length === 0) fail('empty batch');
  return { meta, batch, aggregates };
}
