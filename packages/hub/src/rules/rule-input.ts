import { z } from 'zod';
import { RULE_KINDS, type RuleKind } from 'moat-waf';

const kinds = RULE_KINDS as unknown as [RuleKind, ...RuleKind[]];

/** Expiry: Unix milliseconds, an ISO 8601 date(-time), or null/'' for none. */
export const expiresSchema = z.union([
  z.number().int().min(0).max(8.64e15),
  z.string().max(40).regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, 'use an ISO 8601 date such as 2030-01-31'),
  z.literal(''),
  z.null(),
]).optional().transform((v) => (v === '' || v === null ? undefined : v));

/** A new rule as the REST API and the forms accept it; the engine's normalizeRule validates the value. */
export const ruleInputSchema = z.object({
  id: z.string().max(64).optional(),
  action: z.enum(['allow', 'block']).default('block'),
  kind: z.enum(kinds),
  value: z.string().max(1024).default(''),
  note: z.string().max(500).optional().transform((v) => (v === '' ? undefined : v)),
  mode: z.enum(['block', 'monitor']).default('block'),
  expires: expiresSchema,
  rateLimit: z.object({
    method: z.string().max(20).nullish(),
    path: z.string().min(1).max(1024),
    match: z.enum(['exact', 'prefix']).optional(),
    limit: z.coerce.number().int().positive(),
    window: z.union([z.string().min(1).max(20), z.number().positive()]),
    /** `ip` (default), `header:<name>`, `cookie:<name>` or `user`; normalizeRule checks the name. */
    key: z.string().max(80).nullish(),
  }).optional(),
});

export type RuleInputBody = z.output<typeof ruleInputSchema>;

/** What can change on an existing rule; its matched value is its identity, so it cannot. */
export const rulePatchSchema = z.object({
  note: z.string().max(500).nullish(),
  mode: z.enum(['block', 'monitor']).optional(),
  expires: expiresSchema,
  clearExpires: z.boolean().optional(),
});

export type RulePatch = z.output<typeof rulePatchSchema>;

export const importSchema = z.object({
  document: z.union([z.string().min(1).max(5_000_000), z.record(z.string(), z.unknown())]),
  replace: z.boolean().default(false),
});
