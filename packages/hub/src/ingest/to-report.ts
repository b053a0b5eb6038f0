import type { ReportRecord } from '../store/store.js';
import type { UpsyncRecord } from './upsync-schema.js';

/** A Wafris country block reports `G_<CC>`; with no lookup configured, that is the only country known. */
const COUNTRY_RULE = /^G_?([A-Z]{2})(?:_|$)/;

export function toReport(r: UpsyncRecord, countryOf: (ip: string) => string | null): ReportRecord {
  let country = countryOf(r.ip);
  if (!country && r.category === 'bctry') country = COUNTRY_RULE.exec(r.rule)?.[1] ?? null;
  return {
    ts: r.timestamp, ip: r.ip, method: r.method.toUpperCase(), host: r.host, path: r.path, parameter: r.parameter,
    userAgent: r.user_agent, requestId: r.request_id, treatment: r.treatment, category: r.category, rule: r.rule,
    ruleId: r.rule_id, monitored: r.monitored && r.monitored.length > 0 ? r.monitored : null, ipSource: r.ip_source,
    country,
  };
}
