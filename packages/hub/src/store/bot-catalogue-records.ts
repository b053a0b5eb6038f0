/**
 * What the store keeps about the bot catalogue sites are compiled with (feeds/bot-catalogue-*.ts): every
 * catalogue a `bots` feed offered that passed validation, accepted or held for confirmation, and the
 * reverts to the shipped one. It lives in the database, not on one hub's disk, so every hub of a
 * PostgreSQL fleet compiles the same catalogue into a site's rules file. Times are Unix seconds.
 */

/**
 * accepted: in force when it is the newest accepted entry; held: shrank too much, waits for an admin;
 * confirmed / dismissed: a held entry an admin decided on (confirming adds a new accepted entry).
 */
export const BOT_CATALOGUE_STATES = ['accepted', 'held', 'confirmed', 'dismissed'] as const;
export type BotCatalogueState = (typeof BOT_CATALOGUE_STATES)[number];

/** Bots added, removed or changed against the catalogue in force when the entry was recorded (bounded samples). */
export interface BotCatalogueDiff {
  added: number;
  removed: number;
  changed: number;
  addedIds: string[];
  removedIds: string[];
  changedIds: string[];
}

export interface BotCatalogueEntry {
  version: number;
  state: BotCatalogueState;
  /** Canonical JSON of the validated catalogue; null for the catalogue shipped with the hub (a revert). */
  content: string | null;
  /** sha256 of the canonical JSON: two hubs compiling entries of equal hash compile the same bots. */
  hash: string;
  /** The feed source's name, or `shipped`. */
  source: string;
  sourceId: number | null;
  fetchedAt: number;
  recordedAt: number;
  bots: number;
  /** The catalogue's own edition label (`updated`). */
  edition: string;
  diff: BotCatalogueDiff;
}

export type BotCatalogueSummary = Omit<BotCatalogueEntry, 'content'>;

/** The bot-catalogue part of the hub's store (HubStore.botCatalogues); both stores implement it over one table. */
export interface BotCatalogueStore {
  /** Records an entry; its version is higher than every earlier one. */
  add(entry: Omit<BotCatalogueEntry, 'version'>): Promise<BotCatalogueEntry>;
  /** The catalogue in force: the newest accepted entry; undefined when none (the shipped catalogue). */
  current(): Promise<BotCatalogueEntry | undefined>;
  get(version: number): Promise<BotCatalogueEntry | undefined>;
  /** The newest held entry still waiting for an admin. */
  held(): Promise<BotCatalogueEntry | undefined>;
  /** Moves a held entry to `confirmed` or `dismissed`; false when it is not held (any more). */
  decide(version: number, state: 'confirmed' | 'dismissed'): Promise<boolean>;
  /** Newest first, without the content. */
  list(limit: number): Promise<BotCatalogueSummary[]>;
  /** Keeps the newest `keep` entries and the one in force; returns how many were removed. */
  prune(keep: number): Promise<number>;
}

/** The columns of bot_catalogues as both stores return them (PostgreSQL BIGINTs may come back as strings). */
export interface BotCatalogueRow {
  version: number | string;
  state: string;
  content?: string | null;
  hash: string;
  source: string;
  source_id: number | string | null;
  fetched_at: number | string;
  recorded_at: number | string;
  bots: number | string;
  edition: string;
  diff: string;
}

export const SUMMARY_COLUMNS = 'version, state, hash, source, source_id, fetched_at, recorded_at, bots, edition, diff';

export function toBotCatalogueSummary(r: BotCatalogueRow): BotCatalogueSummary {
  return {
    version: Number(r.version), state: r.state as BotCatalogueState, hash: r.hash, source: r.source,
    sourceId: r.source_id === null ? null : Number(r.source_id), fetchedAt: Number(r.fetched_at), recordedAt: Number(r.recorded_at),
    bots: Number(r.bots), edition: r.edition, diff: JSON.parse(r.diff) as BotCatalogueDiff,
  };
}

export function toBotCatalogueEntry(r: BotCatalogueRow): BotCatalogueEntry {
  return { ...toBotCatalogueSummary(r), content: r.content ?? null };
}
