/**
 * Every code a Moat error carries, with what it means and the `moat-waf` exit code it ends the command
 * with. The single source: the types, docs/errors.md and the CLI read this table. Codes never change
 * meaning; messages may. One code per thing a user would handle differently, not one per message.
 */

/** `moat-waf` exit codes: 0 done; 1 it could not be done (files, machine); 2 what was asked is wrong (fix the command or rules). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface MoatErrorCodeInfo {
  /** One line: when this code is given. */
  readonly meaning: string;
  /** The exit code of `moat-waf` when a command ends with this error. */
  readonly exit: typeof EXIT_FAILED | typeof EXIT_USAGE;
}

/** Every code; each has its row in MOAT_ERROR_CODES (the compiler holds the two together). */
export type MoatErrorCode =
  | 'MOAT_ERR_OPTION_INVALID'
  | 'MOAT_ERR_USAGE'
  | 'MOAT_ERR_RULE_INVALID'
  | 'MOAT_ERR_IP_INVALID'
  | 'MOAT_ERR_DEPENDENCY_MISSING'
  | 'MOAT_ERR_FILE_MISSING'
  | 'MOAT_ERR_FILE_UNREADABLE'
  | 'MOAT_ERR_FILE_CORRUPT'
  | 'MOAT_ERR_FILE_VERSION'
  | 'MOAT_ERR_FILE_KIND'
  | 'MOAT_ERR_SOURCE_MISSING'
  | 'MOAT_ERR_SOURCE_UNREADABLE'
  | 'MOAT_ERR_SOURCE_REJECTED'
  | 'MOAT_ERR_SYNC_NETWORK'
  | 'MOAT_ERR_SYNC_HTTP'
  | 'MOAT_ERR_SYNC_UNAUTHORIZED'
  | 'MOAT_ERR_SYNC_SIGNATURE'
  | 'MOAT_ERR_SYNC_REJECTED'
  | 'MOAT_ERR_SYNC_TOO_LARGE'
  | 'MOAT_ERR_SYNC_REDIRECT'
  | 'MOAT_ERR_SYNC_DIR'
  | 'MOAT_ERR_SYNC_LOCAL_FILE'
  | 'MOAT_ERR_SYNC_ABORTED'
  | 'MOAT_ERR_SYNC_FAILED'
  | 'MOAT_ERR_UPSYNC_REFUSED'
  | 'MOAT_ERR_WORKER'
  | 'MOAT_ERR_STARTUP'
  | 'MOAT_ERR_ENGINE'
  | 'MOAT_ERR_HOOK'
  | 'MOAT_ERR_CLIENT_ADDRESS'
  | 'MOAT_ERR_BODY_BUSY'
  | 'MOAT_ERR_RATE_LIMIT_STORE'
  | 'MOAT_ERR_INTERNAL';

export const MOAT_ERROR_CODES: Readonly<Record<MoatErrorCode, MoatErrorCodeInfo>> = {
  // Options and input given to Moat
  MOAT_ERR_OPTION_INVALID: { meaning: 'an option or argument given to Moat is missing, unknown, of the wrong type or out of range', exit: EXIT_USAGE },
  MOAT_ERR_USAGE: { meaning: 'a moat-waf command line is wrong: unknown command or option, missing or invalid value', exit: EXIT_USAGE },
  MOAT_ERR_RULE_INVALID: { meaning: 'a rule or rules document is invalid (every problem is listed, with its line and entry)', exit: EXIT_USAGE },
  MOAT_ERR_IP_INVALID: { meaning: 'a text that should be an IP address or range is not one', exit: EXIT_USAGE },
  MOAT_ERR_DEPENDENCY_MISSING: { meaning: 'an optional dependency a feature needs is not installed (e.g. ioredis)', exit: EXIT_FAILED },
  // Rules and data files
  MOAT_ERR_FILE_MISSING: { meaning: 'a rules or data file does not exist', exit: EXIT_FAILED },
  MOAT_ERR_FILE_UNREADABLE: { meaning: 'a file exists but cannot be opened, read or written (permissions, a folder, disk)', exit: EXIT_FAILED },
  MOAT_ERR_FILE_CORRUPT: { meaning: 'a file is not SQLite, is truncated, or its content fails its checks', exit: EXIT_FAILED },
  MOAT_ERR_FILE_VERSION: { meaning: 'a file was written by a newer Moat, or by an older one in a form this one no longer reads', exit: EXIT_FAILED },
  MOAT_ERR_FILE_KIND: { meaning: 'a file is of another kind than expected (a data file where rules belong, a Wafris file to edit)', exit: EXIT_FAILED },
  // Data sources (moat-waf data build)
  MOAT_ERR_SOURCE_MISSING: { meaning: 'a data source package is not installed or holds no files', exit: EXIT_FAILED },
  MOAT_ERR_SOURCE_UNREADABLE: { meaning: 'a data source file cannot be read or is of an unknown layout', exit: EXIT_FAILED },
  MOAT_ERR_SOURCE_REJECTED: { meaning: 'a data source is empty or mostly invalid, so nothing is built from it', exit: EXIT_USAGE },
  // Downsync and upsync (managed mode)
  MOAT_ERR_SYNC_NETWORK: { meaning: 'the hub could not be reached, did not answer in time, or a transfer broke off', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_HTTP: { meaning: 'the hub answered with an unexpected HTTP status (the reason says which: http-<status>)', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_UNAUTHORIZED: { meaning: 'the hub refused the API key (401/403); syncing with it stopped', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_SIGNATURE: { meaning: 'a downloaded file is unsigned, its signature does not verify with the configured public key, or its freshness statement is missing, invalid, for another site or file, or older than the file installed', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_REJECTED: { meaning: 'a downloaded file is not a usable rules or data file; the one in use stays', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_TOO_LARGE: { meaning: 'a download is larger than maxDownloadBytes (maxRulesDownloadBytes for a rules file)', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_REDIRECT: { meaning: 'the hub redirected somewhere Moat does not follow (no Location, too many, not http(s))', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_DIR: { meaning: 'the sync directory cannot be created or used, or users other than the app\'s may write to it', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_LOCAL_FILE: { meaning: 'the file on disk (the current one or the fallback) cannot be used', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_ABORTED: { meaning: 'a sync step stopped because the firewall is closing', exit: EXIT_FAILED },
  MOAT_ERR_SYNC_FAILED: { meaning: 'a sync step failed for another reason (the message says which)', exit: EXIT_FAILED },
  MOAT_ERR_UPSYNC_REFUSED: { meaning: 'the hub refused some reported records; they are dropped and counted', exit: EXIT_FAILED },
  MOAT_ERR_WORKER: { meaning: 'a worker thread (loading, reporting) failed or stopped; work is retried or counted as dropped', exit: EXIT_FAILED },
  // While judging requests (emitted, not thrown: onError events, log lines)
  MOAT_ERR_STARTUP: { meaning: 'the firewall could not load its rules at start; requests fail open (or 503 with failClosed)', exit: EXIT_FAILED },
  MOAT_ERR_ENGINE: { meaning: 'the engine could not judge a request; it failed open (or 503 with failClosed)', exit: EXIT_FAILED },
  MOAT_ERR_HOOK: { meaning: 'a hook of yours (a decision listener) threw; the request went on', exit: EXIT_FAILED },
  MOAT_ERR_CLIENT_ADDRESS: { meaning: 'a request had no client address, so IP rules could not run (a configuration problem)', exit: EXIT_FAILED },
  MOAT_ERR_BODY_BUSY: { meaning: 'too many brotli request bodies were waiting to be inflated, so one was not judged; it failed open (or 503 with failClosed)', exit: EXIT_FAILED },
  MOAT_ERR_RATE_LIMIT_STORE: { meaning: 'the shared rate-limit store did not answer in time or failed; the process counted locally', exit: EXIT_FAILED },
  // Bugs
  MOAT_ERR_INTERNAL: { meaning: 'an internal invariant does not hold: a bug in Moat, please report it', exit: EXIT_FAILED },
};

export function isMoatErrorCode(value: unknown): value is MoatErrorCode {
  return typeof value === 'string' && Object.hasOwn(MOAT_ERROR_CODES, value);
}

/** The exit code `moat-waf` ends with for an error of this code. */
export function exitCodeOf(code: MoatErrorCode): number {
  return MOAT_ERROR_CODES[code].exit;
}
