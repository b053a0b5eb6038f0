import type { HubConfig } from '../config.js';
import type { LoginRateLimiter } from '../auth/login-rate-limit.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import type { RuleService } from '../rules/rule-service.js';
import type { HubStore } from '../store/store.js';

/** What every route plugin gets: the parts of a running hub. */
export interface HubContext {
  config: HubConfig;
  store: HubStore;
  builder: RulesBuilder;
  rules: RuleService;
  loginLimiter: LoginRateLimiter;
  countryOf: (ip: string) => string | null;
  /** Milliseconds. */
  now: () => number;
}
