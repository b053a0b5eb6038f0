// Freshness statements: the hub signs, with every 200 and 304 answer, a line naming which site and
// category the answer is for, the SHA-256 of the file current for them, and when it said so:
//   moat-file-v2 site=<32 hex> category=<custom_rules|data_subscriptions> sha256=<64 hex> issued=<unix ms>
// (X-Moat-Freshness, signed in X-Moat-Freshness-Signature). The file signatures say only "the hub made
// these bytes"; this says "for you, now". A party on the path can then no longer serve an older file
// (its statement is older than the one installed), another site's file (the site differs), or 304s
// for ever unnoticed (the newest statement grows old, and status() and the log say so).
import { createHash, type KeyObject } from 'node:crypto';
import type { HeaderReader } from './downsync-answer.js';
import { signatureValid } from './signature.js';
import type { SyncCategory } from './sync-dir-files.js';
import { SyncError } from './sync-error.js';

export const FRESHNESS_HEADER = 'x-moat-freshness';
export const FRESHNESS_SIGNATURE_HEADER = 'x-moat-freshness-signature';

export interface FreshnessStatement {
  site: string;
  category: SyncCategory;
  sha256: string;
  /** When the hub said it, by the hub's clock (Unix ms). */
  issued: number;
}

/**
 * Whether answers must carry a statement: 'auto' once one was accepted in this sync directory (kept in
 * the pointer, so a restart keeps it); 'required' always; 'optional' never (a statement sent is still
 * checked). Only with a pinned public key: without one nothing can be checked.
 */
export type FreshnessMode = 'auto' | 'required' | 'optional';

/** What a category remembers of statements, in its pointer. */
export interface FreshnessRecord {
  /** A valid statement was accepted here once: under 'auto' answers without one are refused from then on. */
  seen: boolean;
  /** `issued` of the statement the installed file came with; no older file is accepted. */
  issuedAt: number | null;
  /** The newest `issued` of a valid statement naming the installed file (a 200 or a 304). */
  confirmedAt: number | null;
}

export const NO_FRESHNESS: FreshnessRecord = { seen: false, issuedAt: null, confirmedAt: null };

/**
 * The site as statements name it: derived from the API key (as the hub sees it in the URL) with a label
 * of its own, so it names the key without revealing it or any hash the hub stores.
 */
export function siteTag(apiKey: string): string {
  return createHash('sha256').update(`moat-site:${apiKey}`, 'utf8').digest('hex').slice(0, 32);
}

const STATEMENT = /^moat-file-v2 site=([0-9a-f]{32}) category=(custom_rules|data_subscriptions) sha256=([0-9a-f]{64}) issued=(\d{1,16})$/;

export function parseStatement(text: string): FreshnessStatement | null {
  const match = STATEMENT.exec(text);
  if (match === null) return null;
  const issued = Number(match[4]);
  if (!Number.isSafeInteger(issued)) return null;
  return { site: match[1]!, category: match[2] as SyncCategory, sha256: match[3]!, issued };
}

/**
 * The answer's statement, checked: null when it carries none; a SyncError (`statement-invalid`,
 * `statement-site`, `statement-category`) when it does not verify with `key` or is for someone else.
 */
export function readStatement(
  headers: HeaderReader, key: KeyObject, expected: { site: string; category: SyncCategory },
): FreshnessStatement | null {
  const text = headers.get(FRESHNESS_HEADER);
  const signature = headers.get(FRESHNESS_SIGNATURE_HEADER);
  if (text === null && signature === null) return null;
  const statement = text === null ? null : parseStatement(text.trim());
  if (statement === null || !signatureValid(key, Buffer.from(text!.trim(), 'latin1'), signature)) {
    throw new SyncError('statement-invalid', `${expected.category}: the hub's freshness statement is malformed or does not verify with the configured public key`);
  }
  if (statement.site !== expected.site) {
    throw new SyncError('statement-site', `${expected.category}: the answer's freshness statement is for another site (another API key)`);
  }
  if (statement.category !== expected.category) {
    throw new SyncError('statement-category', `${expected.category}: the answer's freshness statement is for ${statement.category}`);
  }
  return statement;
}

/** Whether an answer without a statement is refused now. */
export function statementRequired(mode: FreshnessMode, record: FreshnessRecord): boolean {
  return mode === 'required' || (mode === 'auto' && record.seen);
}

/** The refusal of an answer that should have carried a statement. */
export function missingStatement(category: SyncCategory, mode: FreshnessMode): SyncError {
  const why = mode === 'required' ? 'freshness statements are required' : 'this sync directory has had signed freshness statements from the hub before';
  return new SyncError('statement-missing', `${category}: the hub's answer carries no freshness statement, and ${why}`);
}

/** Refuses a file whose statement is older than the installed file's (a replay). */
export function checkNotOlder(statement: FreshnessStatement, record: FreshnessRecord): void {
  if (record.issuedAt !== null && statement.issued < record.issuedAt) {
    throw new SyncError('statement-old', `${statement.category}: the hub's answer is older (issued ${new Date(statement.issued).toISOString()}) ` +
      `than the file installed (issued ${new Date(record.issuedAt).toISOString()}): an old answer replayed, or a hub whose clock is behind`);
  }
}

/** The record after installing a file with `statement` (null: a file that came without one). */
export function installed(record: FreshnessRecord, statement: FreshnessStatement | null): FreshnessRecord {
  // Without a statement the floor stays: time only moves on, and an older file is still an older file.
  if (statement === null) return { seen: record.seen, issuedAt: record.issuedAt, confirmedAt: null };
  return { seen: true, issuedAt: statement.issued, confirmedAt: statement.issued };
}

/** The record after a 304 whose valid statement names the installed file. */
export function confirmed(record: FreshnessRecord, statement: FreshnessStatement): FreshnessRecord {
  return { seen: true, issuedAt: record.issuedAt, confirmedAt: Math.max(record.confirmedAt ?? -Infinity, statement.issued) };
}

/** A pointer's record as read from disk (a pointer written before statements has none). */
export function freshnessFrom(value: unknown): FreshnessRecord {
  if (typeof value !== 'object' || value === null) return NO_FRESHNESS;
  const v = value as Partial<Record<keyof FreshnessRecord, unknown>>;
  const time = (t: unknown) => (typeof t === 'number' && Number.isFinite(t) ? t : null);
  return { seen: v.seen === true, issuedAt: time(v.issuedAt), confirmedAt: time(v.confirmedAt) };
}

/** Two records of the same directory (this process's and the pointer's) as one: what either has seen holds. */
export function merged(a: FreshnessRecord, b: FreshnessRecord | null): FreshnessRecord {
  if (b === null) return a;
  const later = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.max(x, y));
  return { seen: a.seen || b.seen, issuedAt: later(a.issuedAt, b.issuedAt), confirmedAt: later(a.confirmedAt, b.confirmedAt) };
}
