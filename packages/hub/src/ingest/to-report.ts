import { countryOfWafrisRule } from 'moat-waf/wafris';
import type { ReportRecord } from '../store/store.js';
import type { UpsyncRecord } from './upsync-schema.js';

export function toReport(r: UpsyncRecord, countryOf: (ip: string) => string | null): ReportRecord {
  let country = countryOf(r.ip);
  // A country block reports `G_<token>` (`G_gb` for GB: see the Wafris country tokens); with no lookup
  // configured, that is the only country known.
  if (!country && r.category === 'bctry') country = countryOfWafrisRule(r.rule);
  return {
    ts: r.timestamp, ip: r.ip, method: r.method.toUpperCase(), host: r.host, path: r.path, parameter: r.parameter,
    userAgent: r.user_agent, requestId: r.request_id, treatment: r.treatment, category: r.category, rule: r.rule,
    ruleId: r.rule_id, monitored: r.monitored && r.monitored.length > 0 ? r.monitored : null, ipSource: r.ip_source,
    country, status: r.status ?? null, keys: r.keys ?? null,
  };
}
