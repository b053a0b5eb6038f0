import { z } from 'zod';
import { formatRateLimitKey, parseRateLimitKey } from 'moat-waf';
import { THRESHOLD_IP_KINDS, THRESHOLD_MODES, type ThresholdKeyKind, type ThresholdMode, type ThresholdRuleInput } from './threshold-types.js';

/** Bounds of a threshold rule: wide enough for any sane rule, narrow enough that none costs unbounded memory. */
export const THRESHOLD_LIMITS = {
  maxWindowSeconds: 24 * 3600,
  maxThreshold: 1_000_000,
  maxBanSeconds: 30 * 24 * 3600,
  maxBansPerMinute: 10_000,
  /** Threshold rules per site: each costs counter work on every ingested record. */
  maxRulesPerSite: 50,
} as const;

const HTTP_METHOD = /^[A-Z]{1,16}$/;

const conditionSchema = z.object({
  requests: z.enum(['blocked', 'any']),
  method: z.string().trim().toUpperCase().regex(HTTP_METHOD, 'a method such as POST').nullish()
    .transform((v) => v || null),
  path: z.string().trim().max(2048).nullish()
    .transform((v) => (v ? v.toLowerCase() : null))
    .refine((v) => v === null || v.startsWith('/'), 'a path starts with "/"')
    .refine((v) => v === null || !v.includes('?'), 'a path without a query'),
  pathMatch: z.enum(['exact', 'prefix']).default('exact'),
  status: z.number().int().min(100).max(599).nullish().transform((v) => v ?? null),
  clients: z.enum(['moat', 'all']).optional(),
}).strict();

/**
 * `ip`, `ip64`, or a reported key written as a rate limit's (`header:x-api-key`, `cookie:session`,
 * `user`), checked by the same parser: a header carrying the client address (X-Forwarded-For …) or
 * `header:cookie` is refused, since a client could then choose its own count.
 */
const keySchema = z.string().trim().max(80).transform((text, ctx): ThresholdKeyKind => {
  if ((THRESHOLD_IP_KINDS as readonly string[]).includes(text)) return text as ThresholdKeyKind;
  try {
    const key = parseRateLimitKey(text);
    if (key !== undefined) return formatRateLimitKey(key) as ThresholdKeyKind;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: 'use "ip", "ip64", "header:<name>", "cookie:<name>" or "user"' });
  return z.NEVER;
});

/** A threshold rule as the API and the form send it; every number bounded, every unknown field refused. */
export const thresholdInputSchema = z.object({
  name: z.string().trim().min(1).max(100),
  condition: conditionSchema,
  windowSeconds: z.number().int().min(1).max(THRESHOLD_LIMITS.maxWindowSeconds),
  threshold: z.number().int().min(1).max(THRESHOLD_LIMITS.maxThreshold),
  key: keySchema,
  banSeconds: z.number().int().min(1).max(THRESHOLD_LIMITS.maxBanSeconds),
  mode: z.enum(THRESHOLD_MODES as unknown as [ThresholdMode, ...ThresholdMode[]]).default('monitor'),
  maxBansPerMinute: z.number().int().min(1).max(THRESHOLD_LIMITS.maxBansPerMinute).default(60),
}).strict();

export function parseThresholdInput(body: unknown): ThresholdRuleInput {
  return thresholdInputSchema.parse(body);
}

/** A number field of a form: '' is absent, anything else must be all digits (else NaN, which the schema refuses). */
function formNumber(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return /^-?\d{1,12}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

/** The dashboard form's flat fields in the API's shape, then the same schema. */
export function thresholdInputFromForm(form: Record<string, string | undefined>): ThresholdRuleInput {
  return thresholdInputSchema.parse({
    name: form.name ?? '',
    condition: {
      requests: form.requests,
      method: form.method || null,
      path: form.path || null,
      pathMatch: form.pathMatch || undefined,
      status: formNumber(form.status) ?? null,
      // A checkbox: present when ticked.
      ...(form.clients === 'all' ? { clients: 'all' } : {}),
    },
    windowSeconds: formNumber(form.windowSeconds),
    threshold: formNumber(form.threshold),
    // Header and cookie keys come as a kind and a name field.
    key: form.key === 'header' || form.key === 'cookie' ? `${form.key}:${form.keyName ?? ''}` : form.key,
    banSeconds: formNumber(form.banSeconds),
    mode: form.mode,
    maxBansPerMinute: formNumber(form.maxBansPerMinute),
  });
}
