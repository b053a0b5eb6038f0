/** Poll spread, retry backoff and download limits: resolved once from the options, used by every category sync. */
export interface DownloadLimits {
  /** Poll interval spread, a fraction. */
  jitter: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  requestTimeoutMs: number;
  downloadTimeoutMs: number;
  maxDownloadBytes: number;
}
