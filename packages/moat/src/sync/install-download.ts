// A 200 answer turned into an installed file: streamed into a part file, verified (signature, the
// freshness statement's hash, SQLite checks) and loaded, renamed into place durably, and the pointer
// moved to it. Nothing is served from it until the caller installs the loaded value. The name the hub
// gave the file, and what the statements said, are kept in the pointer.
import { rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { offThreadMinBytes, type CategorySyncConfig, type LoadedFile } from './category-sync-config.js';
import { writePointer, type CurrentPointer } from './current-pointer.js';
import type { DownsyncAnswer } from './downsync-answer.js';
import { installed, type FreshnessRecord, type FreshnessStatement } from './freshness.js';
import { fsyncDir, installedFileName, partFilePath } from './sync-dir-files.js';
import { asError, SyncError } from './sync-error.js';
import { verifyDownload } from './verify-download.js';
import { digestSignatureValid } from './signature.js';

export interface InstalledDownload<T> {
  /** The pointer now written (its installedAt is the install time). */
  pointer: CurrentPointer;
  path: string;
  loaded: LoadedFile<T>;
}

/**
 * `statement`: the answer's freshness statement, already checked for site, category and age (null: it
 * carried none and none was required); its hash must be the body's. `freshness`: the record so far.
 */
export async function installDownload<T>(
  config: CategorySyncConfig<T>, response: DownsyncAnswer, refreshLock: () => void, signal: AbortSignal,
  statement: FreshnessStatement | null = null, freshness: FreshnessRecord | null = null,
): Promise<InstalledDownload<T>> {
  const servedName = servedFileName(response.headers.get('content-disposition'));
  const etag = response.headers.get('etag');
  const signature = response.headers.get('x-moat-signature');
  const tmp = partFilePath(config.dir, config.category);
  let lastRefresh = 0;
  try {
    const limitName = config.category === 'custom_rules' ? 'maxRulesDownloadBytes' : 'maxDownloadBytes';
    const body = await response.save(tmp, config.maxDownloadBytes, limitName, () => {
      const now = Date.now();
      if (now - lastRefresh > config.lockStaleMs / 4) {
        lastRefresh = now;
        refreshLock();
      }
    });
    if (statement !== null && statement.sha256 !== body.sha256) {
      throw new SyncError('statement-file', `${config.category}: the hub's freshness statement names another file than the one sent`);
    }
    // Hashing happened as the bytes arrived. A hub that signs that hash (X-Moat-Digest-Signature) is
    // checked here at once, and the file is then not read whole again for its signature; otherwise the
    // whole-file checks and the load of a big file run in a worker.
    const digestSignature = response.headers.get('x-moat-digest-signature');
    let fileKey = config.publicKey;
    if (fileKey !== null && digestSignature !== null) {
      if (!digestSignatureValid(fileKey, body.sha256, digestSignature)) {
        throw new SyncError('bad-signature', 'the X-Moat-Digest-Signature of the downloaded file does not verify with the configured public key');
      }
      fileKey = null;
    }
    const loaded = await verifyAndLoad(config, fileKey, tmp, body.size, signature, signal);
    const file = installedFileName(config.category, body.sha256);
    const path = join(config.dir, file);
    await rename(tmp, path);
    await fsyncDir(config.dir);
    const now = config.now();
    const pointer: CurrentPointer = {
      category: config.category, file, servedName, etag, sha256: body.sha256, size: body.size,
      contentHash: loaded.contentHash, formatVersion: loaded.formatVersion, installedAt: now, checkedAt: now,
      freshness: installed(freshness ?? { seen: false, issuedAt: null, confirmedAt: null }, statement),
    };
    await writePointer(config.dir, pointer);
    return { pointer, path, loaded };
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** A downloaded file checked and loaded; nothing is installed yet. */
/** `key`: the key the file's own bytes must be signed with, null when that is not needed (none, or the digest was signed). */
async function verifyAndLoad<T>(
  config: CategorySyncConfig<T>, key: KeyObject | null, path: string, size: number, signature: string | null, signal: AbortSignal,
): Promise<LoadedFile<T>> {
  const offThread = config.loadOffThread;
  try {
    if (offThread !== undefined && size >= offThreadMinBytes(config)) return await offThread(path, { publicKey: key, signature }, signal);
    await verifyDownload(path, size, key, signature, signal, config.loadTimeoutMs);
    return config.load(path);
  } catch (error) {
    if (error instanceof SyncError) throw error;
    throw new SyncError('rejected', `${config.category}: the downloaded file was rejected: ${asError(error).message}`, { cause: error });
  }
}

// The name the hub gives a file (Content-Disposition), sent back as `client_db` so it can answer 304.
// It is only ever echoed to the hub, never used as a path, but is still bounded and cleaned.

const FILENAME = /filename\*?=(?:UTF-8'')?(?:"([^"]*)"|([^;]*))/i;

/** The filename of a Content-Disposition header, or null. */
export function servedFileName(header: string | null): string | null {
  if (header === null) return null;
  const match = FILENAME.exec(header);
  if (match === null) return null;
  let name = (match[1] ?? match[2] ?? '').trim();
  try {
    name = decodeURIComponent(name);
  } catch {
    // Not percent-encoded: keep as is.
  }
  name = name.replace(/^.*[\\/]/, '').replace(/[^\w.\-+]/g, '_').slice(0, 200);
  return name === '' ? null : name;
}
