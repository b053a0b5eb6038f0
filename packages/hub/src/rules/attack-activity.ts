/**
 * What the Attacks panel shows for a site and time range, from the stored reports alone: Moat clients
 * report an attack as category `attack-<kind>`, rule id `attacks.<kind>` and rule text
 * `<location>: <redacted snippet>` (blocked: the decision itself; monitor mode: a monitored match), so
 * no report field had to change. Counts come from the hourly rollups (exact over the range); top
 * locations and examples from the newest reports in the range (a bounded sample, said so on the page).
 */
import { ATTACK_CATEGORIES, type AttackCategory } from 'moat-waf';
import type { HubStore, StoredReport } from '../store/store.js';

/** Newest reports read for locations and examples, and examples shown at most. */
export const ACTIVITY_SAMPLE = 500;
const MAX_EXAMPLES = 20;
const MAX_LOCATIONS = 10;

export interface AttackCount {
  category: AttackCategory;
  blocked: number;
  monitored: number;
}

export interface AttackExample {
  ts: number;
  ip: string;
  method: string;
  path: string;
  category: AttackCategory;
  /** `query.q`, `json.user.name`, `header.user-agent`, `path` … */
  location: string;
  /** Redacted by the client (≤ 64 characters, digit runs masked). */
  snippet: string;
  blocked: boolean;
}

export interface AttackActivity {
  counts: AttackCount[];
  locations: { location: string; count: number }[];
  examples: AttackExample[];
  /** Reports read for locations and examples. */
  sampled: number;
}

const CATEGORY_OF: ReadonlyMap<string, AttackCategory> = new Map(ATTACK_CATEGORIES.map((c) => [`attack-${c}`, c]));

/** `query.q: ' OR 1=1--` → location and snippet. */
function splitRule(rule: string): { location: string; snippet: string } {
  const at = rule.indexOf(': ');
  return at < 0 ? { location: rule, snippet: '' } : { location: rule.slice(0, at), snippet: rule.slice(at + 2) };
}

function examplesOf(r: StoredReport): AttackExample[] {
  const out: AttackExample[] = [];
  const add = (categoryText: string, rule: string, blocked: boolean) => {
    const category = CATEGORY_OF.get(categoryText);
    if (category === undefined) return;
    out.push({ ts: r.ts, ip: r.ip, method: r.method, path: r.path, category, blocked, ...splitRule(rule) });
  };
  add(r.category, r.rule, r.treatment === 'Blocked');
  for (const m of r.monitored ?? []) add(m.category, m.rule, false);
  return out;
}

export async function loadAttackActivity(store: HubStore, siteId: number, from: number, to: number): Promise<AttackActivity> {
  const hits = await store.ruleHits(siteId, from, to, { ids: ATTACK_CATEGORIES.map((category) => `attacks.${category}`), matches: [] });
  const counts = ATTACK_CATEGORIES.map((category) => {
    const h = hits.byId.get(`attacks.${category}`);
    return { category, blocked: h?.hits ?? 0, monitored: h?.monitored ?? 0 };
  });
  const page = await store.queryReports(siteId, { from, to }, { limit: ACTIVITY_SAMPLE });
  const all = page.rows.flatMap(examplesOf);
  const byLocation = new Map<string, number>();
  for (const e of all) byLocation.set(e.location, (byLocation.get(e.location) ?? 0) + 1);
  const locations = [...byLocation].map(([location, count]) => ({ location, count }))
    .sort((a, b) => b.count - a.count || (a.location < b.location ? -1 : 1)).slice(0, MAX_LOCATIONS);
  return { counts, locations, examples: all.slice(0, MAX_EXAMPLES), sampled: page.rows.length };
}
