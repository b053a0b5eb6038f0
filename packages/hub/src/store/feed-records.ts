/**
 * What the store keeps about threat-intelligence feeds (feeds/): the sources an admin configured with the
 * state of their last fetch, and the data-file versions built from them. Times are Unix seconds.
 */

/**
 * How a source's bytes are read: plain IP lists, range CSVs, or a provider's published JSON/text shape;
 * `bots` is the bot catalogue (moat-waf's bots.json schema), which replaces the shipped one in the rules files.
 */
export const FEED_FORMATS = ['ip-list', 'country-csv', 'asn-csv', 'aws', 'gcp', 'azure', 'oracle', 'cloudflare', 'crawlers', 'bots'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];

/** url: fetched on schedule; upload: a file an admin sent; bundled: the CC0 set installed with the hub. */
export const FEED_ORIGINS = ['url', 'upload', 'bundled'] as const;
export type FeedOrigin = (typeof FEED_ORIGINS)[number];

/** pending: never fetched; ok: the last attempt succeeded; error: it failed (the last good copy, if any, is still used). */
export type FeedStatus = 'pending' | 'ok' | 'error';

/** What an admin sets. */
export interface FeedSourceFields {
  name: string;
  format: FeedFormat;
  origin: FeedOrigin;
  /** For origin url only. */
  url: string | null;
  /** The named list the ranges go into (rules block them by this name); empty for country and ASN sources. */
  list: string;
  refreshSeconds: number;
}

/** What the hub learned on the last attempts. */
export interface FeedSourceState {
  status: FeedStatus;
  etag: string | null;
  lastModified: string | null;
  /** Last attempt (fetch or upload), successful or not. */
  checkedAt: number | null;
  /** When the copy in use was accepted. */
  changedAt: number | null;
  /** Valid entries of the copy in use. */
  entries: number | null;
  bytes: number | null;
  sha256: string | null;
  lastError: string | null;
  /** Failed attempts since the last success. */
  failures: number;
}

export interface FeedSource extends FeedSourceFields, FeedSourceState {
  id: number;
  createdAt: number;
  updatedAt: number;
}

/** Ranges added and removed in one list between two versions, with a bounded sample of each. */
export interface ListDiff {
  list: string;
  added: number;
  removed: number;
  addedSample: string[];
  removedSample: string[];
}

/** One data file built from the feeds. */
export interface FeedVersion {
  version: number;
  builtAt: number;
  fileName: string;
  /** Flattened ranges in the file. */
  ranges: number;
  contentHash: string;
  diff: ListDiff[];
}

/** The feeds part of the hub's store (HubStore.feeds); both stores implement it over the same tables. */
export interface FeedStore {
  listSources(): Promise<FeedSource[]>;
  getSource(id: number): Promise<FeedSource | undefined>;
  /** Undefined when another source already has the name. */
  createSource(fields: FeedSourceFields, now: number): Promise<FeedSource | undefined>;
  /** 'not_found', 'name_taken' or 'done'. Changing the URL or format forgets the validators (ETag, Last-Modified). */
  updateSource(id: number, fields: FeedSourceFields, now: number): Promise<'done' | 'not_found' | 'name_taken'>;
  deleteSource(id: number): Promise<boolean>;
  saveState(id: number, state: Partial<FeedSourceState>): Promise<void>;
  /** Records a built version; its number is one more than the newest so far. */
  addVersion(version: Omit<FeedVersion, 'version'>): Promise<FeedVersion>;
  /** Newest first. */
  listVersions(limit: number): Promise<FeedVersion[]>;
}

/** The columns of feed_sources as both stores return them (snake case, numbers may come back as strings from PostgreSQL BIGINT). */
export interface FeedSourceRow {
  id: number | string;
  name: string;
  format: string;
  origin: string;
  url: string | null;
  list: string;
  refresh_seconds: number | string;
  created_at: number | string;
  updated_at: number | string;
  status: string;
  etag: string | null;
  last_modified: string | null;
  checked_at: number | string | null;
  changed_at: number | string | null;
  entries: number | string | null;
  bytes: number | string | null;
  sha256: string | null;
  last_error: string | null;
  failures: number | string;
}

export interface FeedVersionRow {
  version: number | string;
  built_at: number | string;
  file_name: string;
  ranges: number | string;
  content_hash: string;
  diff: string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function toFeedSource(r: FeedSourceRow): FeedSource {
  return {
    id: Number(r.id), name: r.name, format: r.format as FeedFormat, origin: r.origin as FeedOrigin, url: r.url, list: r.list,
    refreshSeconds: Number(r.refresh_seconds), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
    status: r.status as FeedStatus, etag: r.etag, lastModified: r.last_modified, checkedAt: num(r.checked_at),
    changedAt: num(r.changed_at), entries: num(r.entries), bytes: num(r.bytes), sha256: r.sha256, lastError: r.last_error,
    failures: Number(r.failures),
  };
}

export function toFeedVersion(r: FeedVersionRow): FeedVersion {
  return {
    version: Number(r.version), builtAt: Number(r.built_at), fileName: r.file_name, ranges: Number(r.ranges),
    contentHash: r.content_hash, diff: JSON.parse(r.diff) as ListDiff[],
  };
}

/** State fields → their columns, for the UPDATE both stores build (names from this table only, never from input). */
export const STATE_COLUMNS: Readonly<Record<keyof FeedSourceState, string>> = {
  status: 'status', etag: 'etag', lastModified: 'last_modified', checkedAt: 'checked_at', changedAt: 'changed_at',
  entries: 'entries', bytes: 'bytes', sha256: 'sha256', lastError: 'last_error', failures: 'failures',
};
