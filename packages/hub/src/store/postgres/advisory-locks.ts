/**
 * Advisory lock keys of the PostgreSQL store (two-int form: a namespace, then the lock). Every hub
 * instance on one database uses the same keys, which is what makes them coordinate.
 */
export const LOCK_NAMESPACE = 0x4d4f4154; // "MOAT"

export const LOCKS = {
  /** Held while migrating, so instances starting together migrate once, one after another. */
  migrate: 1,
  /** Shared by every ingest transaction; taken exclusively for a moment to find ids proven committed. */
  ingestBarrier: 2,
  /** One retention pass at a time across instances. */
  prune: 3,
  /** Creating and dropping day partitions of the reports table, one instance at a time. */
  partitions: 4,
} as const;
