// Everything a downloaded file must pass before it may be renamed into place: the SQLite header,
// the hub's signature (checked before SQLite parses a byte of it), SQLite's own quick_check, and the
// loader's checks (file kind, format version, content hash).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import { signatureValid } from './signature.js';
import { SyncError } from './sync-error.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export function verifySqliteHeader(path: string): void {
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (read < 16 || !head.equals(SQLITE_MAGIC)) throw new SyncError('not-sqlite', 'the downloaded file is not a SQLite database');
}

/** Checks the signature over the file's exact bytes (ed25519 signs whole messages, so it is read once). */
export function verifySignature(path: string, key: KeyObject, signature: string | null): void {
  if (signature === null) throw new SyncError('unsigned', 'the hub sent no X-Moat-Signature, but a public key is configured');
  if (!signatureValid(key, readFileSync(path), signature)) {
    throw new SyncError('bad-signature', 'the X-Moat-Signature of the downloaded file does not verify with the configured public key');
  }
}

export function quickCheck(path: string): void {
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const result = db.pragma('quick_check', { simple: true }) as unknown;
    if (result !== 'ok') throw new SyncError('corrupt', `SQLite quick_check failed: ${String(result).slice(0, 200)}`);
  } catch (error) {
    if (error instanceof SyncError) throw error;
    throw new SyncError('corrupt', `the downloaded file is not a usable SQLite database: ${(error as Error).message}`, { cause: error });
  } finally {
    db?.close();
  }
}
