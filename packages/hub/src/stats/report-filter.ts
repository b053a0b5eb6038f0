import { z } from 'zod';
import type { ReportFilter } from '../store/store.js';

/** Request-log filters as the page and the API accept them; times are ISO (UTC) or Unix seconds. */
export const reportQuerySchema = z.object({
  treatment: z.enum(['Blocked', 'Allowed', 'Passed', '']).optional(),
  ip: z.string().max(64).optional(),
  path: z.string().max(512).optional(),
  rule: z.string().max(512).optional(),
  from: z.string().max(40).optional(),
  to: z.string().max(40).optional(),
  before: z.string().max(40).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

export type ReportQuery = z.output<typeof reportQuerySchema>;

/** `2030-01-31T12:00` (a datetime-local field, read as UTC), full ISO, or Unix seconds. */
export function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  if (/^\d{1,12}$/.test(text)) return Number(text);
  const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

export function toReportFilter(q: ReportQuery): ReportFilter {
  const filter: ReportFilter = {};
  if (q.treatment) filter.treatment = q.treatment;
  if (q.ip?.trim()) filter.ip = q.ip.trim();
  if (q.path) filter.path = q.path;
  if (q.rule?.trim()) filter.rule = q.rule.trim();
  const from = parseTime(q.from);
  const to = parseTime(q.to);
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  return filter;
}
