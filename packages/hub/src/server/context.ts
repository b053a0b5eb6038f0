import type { AuditLog } from '../audit/audit-log.js';
import type { HubConfig } from '../config.js';
import type { LoginRateLimiter } from '../auth/login-rate-limit.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import type { RuleService } from '../rules/rule-service.js';
import type { HubStore } from '../store/store.js';
import type { SigningKey } from '../signing/signing-key.js';

/** What every route plugin gets: the parts of a running hub. */
export interface HubContext {
  config: HubConfig;
  store: HubStore;
  builder: RulesBuilder;
  rules: RuleService;
  audit: AuditLog;
  loginLimiter: LoginRateLimiter;
  /** Signs downsync bodies (managed mode); null when the hub runs without a key. */
  signingKey: SigningKey | null;
  /** The URL clients reach the hub on, for the setup page. */
  publicUrl: () => string;
  /** Whether countryOf can answer (a country data file is loaded). */
  hasCountryLookup: boolean;
  countryOf: (ip: string) => string | null;
  /** Milliseconds. */
  now: () => number;
}
