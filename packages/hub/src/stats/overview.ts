import type { HubStore, Totals, TopDimension, TopEntry } from '../store/store.js';
import { toChartSeries, type ChartSeries } from './series.js';
import { DEFAULT_RANGE, RANGE_NAMES, RANGES, windowFor, type RangeName, type TimeWindow } from './time-range.js';

export interface Overview {
  window: TimeWindow;
  totals: Totals;
  uniqueIps: number;
  series: ChartSeries;
}

export async function loadOverview(store: HubStore, siteId: number, range: RangeName, nowSeconds: number): Promise<Overview> {
  const window = windowFor(range, nowSeconds);
  const [totals, uniqueIps, buckets] = await Promise.all([
    store.totals(siteId, window.from, window.to),
    store.uniqueIps(siteId, window.from, window.to),
    store.timeSeries(siteId, window.from, window.to, window.step),
  ]);
  return { window, totals, uniqueIps, series: toChartSeries(buckets, window.from, window.to, window.step, nowSeconds) };
}

export const TOP_LISTS: ReadonlyArray<{ dim: TopDimension; title: string }> = [
  { dim: 'ip', title: 'Top IPs' },
  { dim: 'path', title: 'Top paths' },
  { dim: 'userAgent', title: 'Top user agents' },
  { dim: 'country', title: 'Top countries' },
  { dim: 'rule', title: 'Rules hit' },
];

export async function loadTopLists(
  store: HubStore, siteId: number, range: RangeName, nowSeconds: number, limit: number,
): Promise<Record<TopDimension, TopEntry[]>> {
  const window = windowFor(range, nowSeconds);
  const lists = await Promise.all(TOP_LISTS.map(({ dim }) => store.top(siteId, dim, window.from, window.to, limit)));
  return Object.fromEntries(TOP_LISTS.map(({ dim }, i) => [dim, lists[i]!])) as Record<TopDimension, TopEntry[]>;
}

/**
 * The range the overview opens with when none is asked for: the shortest that holds all of the site's
 * data, up to the usual 24 h. A new site shows its first hour in minutes, not a flat day with a spike.
 */
export async function rangeFittingData(store: HubStore, siteId: number, nowSeconds: number): Promise<RangeName> {
  const first = await store.earliestMinute(siteId);
  if (first === undefined) return '1h';
  const age = nowSeconds - first;
  return RANGE_NAMES.find((name) => RANGES[name].seconds >= age && RANGES[name].seconds <= RANGES[DEFAULT_RANGE].seconds) ?? DEFAULT_RANGE;
}
