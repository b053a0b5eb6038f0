/**
 * The Moat file layout (docs/format.md). Rules files and data files share the range tables; each
 * has a `meta` table naming its format. Bump a format version on any change readers must know of.
 */
export const RULES_FORMAT = 'moat-rules';
export const DATA_FORMAT = 'moat-data';
/**
 * The newest rules format this Moat reads and writes. A file is written as version 2 only when it holds
 * a keyed rate limit (`rl_key`), as version 3 only when it holds a keyed ban (rule kind `key`): older
 * readers refuse it as too new (keeping the rules in force) instead of counting those limits per IP or
 * ignoring the bans; every other file stays version 1, which every Moat reads.
 */
export const RULES_FORMAT_VERSION = 3;
export const DATA_FORMAT_VERSION = 1;

export const META_DDL = `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`;

/** Writes the `meta` rows every Moat file starts with, plus any others (values as text). */
export function insertMeta(db: import('better-sqlite3').Database, entries: Record<string, string | number>): void {
  const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  for (const [key, value] of Object.entries(entries)) meta.run(key, String(value));
}

/** One row per flattened range: the source of truth, and what memory-light readers before ranges_v4/v6 sought in. */
export const RANGES_DDL = `CREATE TABLE ip_ranges (
  set_name TEXT NOT NULL, family INTEGER NOT NULL, start BLOB NOT NULL, "end" BLOB NOT NULL, label INTEGER NOT NULL,
  PRIMARY KEY (set_name, family, start)) WITHOUT ROWID`;

/**
 * A data file's ranges again, laid out for memory-light readers: each family's address space as a
 * partition, one row per boundary ("from `start` up to the next row's start: `label`", -1 = in no range).
 * One seek on the table's own key answers a lookup, and overlapping or unsorted ranges cannot be written
 * in this shape. IPv4 keys are integers (cheaper to bind and compare than blobs); IPv6 keys are 16-byte
 * big-endian blobs. Added beside `ip_ranges` (older readers ignore them), so no version bump.
 */
export const RANGES_V4_DDL = `CREATE TABLE ranges_v4 (start INTEGER PRIMARY KEY, label INTEGER NOT NULL)`;
export const RANGES_V6_DDL = `CREATE TABLE ranges_v6 (start BLOB PRIMARY KEY, label INTEGER NOT NULL) WITHOUT ROWID`;

/** The same ranges as little-endian uint32 arrays, so in-memory readers load them in one read. */
export const PACKED_DDL = `CREATE TABLE packed_ranges (
  set_name TEXT NOT NULL, part TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (set_name, part)) WITHOUT ROWID`;

export const RULES_DDL = `CREATE TABLE rules (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, action TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
  note TEXT, mode TEXT NOT NULL, expires INTEGER,
  rl_method TEXT, rl_path TEXT, rl_match TEXT, rl_limit INTEGER, rl_window_ms INTEGER, rl_key TEXT)`;

/** Rule indices (rules.seq) behind each label of a rules file's range set, most specific first. */
export const LABEL_SETS_DDL = `CREATE TABLE label_sets (
  set_name TEXT NOT NULL, id INTEGER NOT NULL, members TEXT NOT NULL, PRIMARY KEY (set_name, id)) WITHOUT ROWID`;

/** What each label of a data file's ranges means. */
export const DATA_LABELS_DDL = `CREATE TABLE data_labels (
  id INTEGER PRIMARY KEY, country TEXT, asn TEXT, lists TEXT NOT NULL)`;

export const SOURCES_DDL = `CREATE TABLE sources (
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, file TEXT, ranges INTEGER NOT NULL, invalid_lines INTEGER NOT NULL) WITHOUT ROWID`;
