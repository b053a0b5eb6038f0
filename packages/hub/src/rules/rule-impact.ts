import type { Rule } from 'moat-waf';
import { CONTINENT_OF } from 'moat-waf/data';
import { splitByFamily, tryParseIp, tryParseRange } from 'moat-waf/ip';
import { hourFloor } from '../store/report-rows.js';
import type { HubStore, StoredReport, TopDimension } from '../store/store.js';

/** A new blocking rule that would have matched more than this share of recent requests needs a confirm. */
export const CONFIRM_SHARE = 0.2;
/** …counted only from this many matched requests up, so three test requests do not ask for one. */
export const CONFIRM_MIN_MATCHED = 10;
/** …or more than this many requests in the last 24 hours, whatever the share. */
export const CONFIRM_ABSOLUTE_24H = 100_000;

/**
 * Values read per hour and dimension from the hourly rollups. The rollups keep every value, but a long
 * tail costs time to read and cannot move a share much: a value above the share threshold in an hour is
 * always among that hour's top five. Sums over a cut-off list are a lower bound (said on the page).
 */
const TOP_VALUES = 500;
/** Kinds the rollups do not break down are measured on this many of the newest raw reports. */
const SAMPLE_REPORTS = 500;

/** Back this far, then to the start of that hour (the rollups count whole hours). */
const WINDOWS = [
  { name: 'last hour', seconds: 3600 },
  { name: 'last 24 hours', seconds: 86_400 },
] as const;

/**
 * Lets other requests run between two store queries. The SQLite store answers synchronously, and one top
 * list over 24 flat hours (400,000 reports, 150,000 paths) held the event loop for about a second; hour
 * by hour, no single step holds it longer than one hour's list.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ImpactWindow {
  name: string;
  /** Unix seconds; whole hours, as the rollups count them. */
  from: number;
  /** Requests the rule would have matched. */
  matched: number;
  /** All requests of the site in the window. */
  total: number;
  /** True when values outside the top list could add to `matched`. */
  atLeast: boolean;
}

export interface RuleImpact {
  windows: ImpactWindow[];
  /** Why the numbers call for a confirmation; undefined when they do not. */
  concern: string | undefined;
}

/**
 * What a rule would have matched in the site's recent stored reports: from the hourly rollups (the same
 * numbers the overview shows) for IPs, paths, user agents and countries; from the newest raw reports of
 * the last hour for hosts, parameters and methods. Undefined for ASN, list and rate-limit rules.
 */
export async function estimateImpact(store: HubStore, siteId: number, rule: Pick<Rule, 'kind' | 'value'>, nowSeconds: number): Promise<RuleImpact | undefined> {
  const matcher = reportMatcher(rule);
  if (!matcher) {
    const sampled = sampleMatcher(rule);
    return sampled ? sampleImpact(store, siteId, sampled, nowSeconds) : undefined;
  }
  // The current hour counts in full; hour slices newest first, each window summing the slices it spans.
  const to = hourFloor(nowSeconds) + 3600;
  const windows: ImpactWindow[] = WINDOWS.map((w) => ({ name: w.name, from: hourFloor(nowSeconds - w.seconds), matched: 0, total: 0, atLeast: false }));
  for (let hour = to - 3600; hour >= windows[windows.length - 1]!.from; hour -= 3600) {
    const top = await store.top(siteId, matcher.dimension, hour, hour + 3600, TOP_VALUES);
    let matched = 0;
    for (const entry of top) if (matcher.matches(entry.value)) matched += entry.total;
    // A cut-off list may leave out more matches (substrings), or the one value itself (exact kinds).
    const partial = top.length >= TOP_VALUES && (!matcher.exact || matched === 0);
    for (const w of windows) {
      if (hour < w.from) continue;
      w.matched += matched;
      if (partial) w.atLeast = true;
    }
    await yieldToEventLoop();
  }
  for (const w of windows) w.total = (await store.totals(siteId, w.from, to)).total;
  return { windows, concern: impactConcern(windows) };
}

async function sampleImpact(store: HubStore, siteId: number, matches: (report: StoredReport) => boolean, nowSeconds: number): Promise<RuleImpact> {
  const from = hourFloor(nowSeconds - 3600);
  const page = await store.queryReports(siteId, { from, to: nowSeconds + 3600 }, { limit: SAMPLE_REPORTS });
  let matched = 0;
  let oldest = nowSeconds;
  for (const report of page.rows) {
    if (matches(report)) matched++;
    if (report.ts < oldest) oldest = report.ts;
  }
  const windows = [{ name: 'newest reports', from: page.rows.length > 0 ? oldest : from, matched, total: page.rows.length, atLeast: false }];
  return { windows, concern: impactConcern(windows) };
}

/** The reason a rule's impact needs a confirmation, or undefined. Pure, so the policy is testable alone. */
export function impactConcern(windows: readonly ImpactWindow[]): string | undefined {
  for (const w of windows) {
    if (w.matched >= CONFIRM_MIN_MATCHED && w.total > 0 && w.matched / w.total > CONFIRM_SHARE) {
      return `it would have matched ${w.atLeast ? 'at least ' : ''}${formatShare(w.matched, w.total)} of the requests since ${utcMinute(w.from)}`;
    }
  }
  const day = windows[windows.length - 1];
  if (day && day.matched > CONFIRM_ABSOLUTE_24H) {
    return `it would have matched more than ${CONFIRM_ABSOLUTE_24H.toLocaleString('en-US')} requests since ${utcMinute(day.from)}`;
  }
  return undefined;
}

export function utcMinute(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatShare(matched: number, total: number): string {
  if (total === 0) return '0 %';
  const percent = (matched / total) * 100;
  return `${percent >= 10 || percent === 0 ? Math.round(percent) : percent.toFixed(1)} %`;
}

/** For kinds without a rollup: how the engine would match one raw report. */
function sampleMatcher(rule: Pick<Rule, 'kind' | 'value'>): ((report: StoredReport) => boolean) | undefined {
  const needle = rule.value.toLowerCase();
  switch (rule.kind) {
    case 'host': return (report) => report.host.toLowerCase().replace(/\.$/, '') === needle;
    case 'method': return (report) => report.method.toUpperCase() === rule.value;
    case 'param': return (report) => report.parameter.toLowerCase().includes(needle);
    default: return undefined;
  }
}

interface ReportMatcher {
  dimension: TopDimension;
  /** True when a value either matches or not (no substring sums over a cut-off list). */
  exact: boolean;
  matches(value: string): boolean;
}

/** How the engine would match a reported value of one rollup dimension against this rule. */
function reportMatcher(rule: Pick<Rule, 'kind' | 'value'>): ReportMatcher | undefined {
  switch (rule.kind) {
    case 'ip': {
      const range = tryParseRange(rule.value);
      if (!range) return undefined;
      // As the engine does: the IPv4 part of an IPv6 range matches IPv4 clients.
      const parts = splitByFamily(range);
      return {
        dimension: 'ip',
        exact: range.start === range.end,
        matches: (value) => {
          const address = tryParseIp(value.trim());
          return address !== null && parts.some((p) => p.family === address.family && address.value >= p.start && address.value <= p.end);
        },
      };
    }
    case 'path':
    case 'userAgent': {
      // The engine matches these as case-insensitive substrings.
      const needle = rule.value.toLowerCase();
      return { dimension: rule.kind, exact: false, matches: (value) => value.toLowerCase().includes(needle) };
    }
    case 'country': {
      const continent = /^continent:([A-Z]{2})$/i.exec(rule.value)?.[1]?.toUpperCase();
      const code = rule.value.toUpperCase();
      return {
        dimension: 'country',
        exact: continent === undefined,
        matches: continent ? (value) => CONTINENT_OF.get(value.toUpperCase()) === continent : (value) => value.toUpperCase() === code,
      };
    }
    default:
      return undefined;
  }
}
