// `moat-waf`: the public API of the client package. What an app needs: the firewall, the managed
// firewall, the engine, rules and their files, and every type their signatures use. Building data
// files, Wafris files, IP utilities, traffic replay, OpenTelemetry and Redis rate limits have their own
// entries (moat-waf/data, /wafris, /ip, /replay, /otel, /ratelimit/redis), and each adapter its own;
// docs/api.md lists every name, and public-api.test.ts holds the two equal.

// The firewall (what every adapter wraps).
export { Firewall, createFirewall } from './firewall/firewall.js';
export type { Verdict, WebClientInfo, WebPeerless, WebRequestOrigin } from './firewall/firewall.js';
export type { MoatOptions, BodyOptions, BodyOversize, BlockResponse, ResponseOption, FirewallEngine, DecisionListener, MoatErrorEvent, MoatErrorKind, RateLimitUser } from './firewall/options.js';
export type { FirewallOrOptions } from './adapters/firewall-from.js';
export type { MoatLogger } from './firewall/logger.js';
export type { FirewallStats, DecisionCounts } from './firewall/stats.js';
export type { MoatHttpRequest } from './http/normalized-request.js';
export type { UninspectedReason } from './http/body-kind.js';
export type { IpSource, ForwardingHeader } from './http/client-address.js';
export { TrustedProxies } from './http/trusted-proxies.js';
export type { TrustedProxySpec, PresetHeader } from './http/trusted-proxies.js';
export { PROXY_PRESETS, CLOUDFLARE_RANGES_FILE } from './http/proxy-presets.js';
export type { ProxyPreset } from './http/proxy-presets.js';

// Managed mode: files from a hub, decisions reported to it.
export { ManagedFirewall, createManagedFirewall } from './managed/managed-firewall.js';
export type { ManagedFirewallOptions, ManagedStatus, SyncErrorEvent } from './managed/managed-firewall.js';
export type { ManagedSyncOptions, UpsyncOptions, ResolvedSync } from './sync/managed-options.js';
export type { DownloadLimits } from './sync/managed-options.js';
export type { CategorySyncStatus, CategoryFileStatus, SyncCounters, SyncResult } from './sync/category-sync-status.js';
export type { DownsyncThreadCounts } from './sync/downsync-thread.js';
export type { PushAnswer } from './sync/long-poll.js';
export type { HubFailoverStatus, HubStatus } from './sync/hub-failover.js';
export type { UpsyncStatus, UpsyncFormat, UpsyncRejections } from './sync/upsync.js';
export type { UpsyncRecord } from './sync/report-record.js';
export type { SyncCategory } from './sync/sync-dir-files.js';
export { DEFAULT_REDACTED_PARAMS } from './sync/redact-params.js';

// The engine and its decisions.
export { Engine } from './engine/engine.js';
export type { EngineOptions, EngineParts } from './engine/engine.js';
export type { MoatRequest, KnownKeyHashes, Decision, Treatment, Category, MonitorMatch } from './engine/decision.js';
export type { RuleSet, RulesFileInfo } from './engine/rule-set.js';
export type { DataSet, DataLabel, DataFileInfo, DataMode } from './data/data-set.js';
export type { RangeLookup } from './ranges/range-table.js';
export { MemoryRateLimitStore } from './engine/rate-limiter.js';
export type { RateLimitStore, MemoryRateLimitOptions, MemoryRateLimitStats } from './engine/rate-limiter.js';
export type { SharedRateLimitStore, SharedRateLimitOutcome, RateLimitHit, PendingRateLimits } from './engine/shared-rate-limit-store.js';

// Rules, their documents and files.
export type { Rule, MatchRule, RateLimitRule, RuleFields, RuleKind, RuleAction, RuleMode, RateLimitSpec, RateLimitKey, RateLimitKeyKind } from './rules/types.js';
export { parseRateLimitKey, formatRateLimitKey } from './rules/rate-limit-key.js';
export { KEY_HASH_RE, MAX_REPORT_KEYS } from './rules/key-ban.js';
export type { RequestKeys, RequestKeySpec } from './engine/request-keys.js';
export { RULE_KINDS } from './rules/types.js';
export { normalizeRule, contentId } from './rules/normalize-rule.js';
export type { RuleInput } from './rules/normalize-rule.js';
export { RuleError } from './rules/rule-error.js';
export { unsafeRuleProblems, MIN_RATE_LIMIT_WINDOW_MS, MAX_RATE_LIMIT } from './rules/rule-safety.js';
export { parseRulesDocument, rulesFromDocument, rulesToDocument } from './rules/document.js';
export type { RulesDocument } from './rules/document.js';
export { parseRulesSource, attacksFromDocument } from './rules/document.js';
export type { RulesSource } from './rules/document.js';
export { writeRulesFile } from './format/write-rules.js';
export type { WrittenRulesFile } from './format/write-rules.js';
export { loadRulesFile, loadDataFile } from './format/load-files.js';
export { MoatError, MoatFileError, OptionError } from './errors/moat-error.js';
export { MOAT_ERROR_CODES } from './errors/codes.js';
export type { MoatErrorCode, MoatErrorCodeInfo } from './errors/codes.js';

// Attack detection settings.
export {
  ATTACK_MODES, MAX_ATTACK_HEADERS, attackSettingsToDocument, attacksEnabled, defaultAttackSettings, normalizeAttackSettings,
} from './rules/attack-settings.js';
export type { AttackExclusion, AttackMode, AttackSettings } from './rules/attack-settings.js';
export { ATTACK_CATEGORIES, attackWhere } from './attacks/types.js';
export type { AttackCategory, AttackLocation, AttackMatch } from './attacks/types.js';

// Verified bots.
export { BOT_MODES, botSettingsToDocument, botsEnabled, normalizeBotSettings } from './rules/bot-settings.js';
export type { BotMode, BotSettings } from './rules/bot-settings.js';
export { BOT_CATEGORIES, normalizeBotCatalogue, shippedBotCatalogue } from './bots/catalogue.js';
export type { BotCatalogue, BotCategory, BotEntry } from './bots/catalogue.js';
export { botsFromDocument } from './rules/document.js';
