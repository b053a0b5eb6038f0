import type { BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { FileSignature } from '../signing/file-signature.js';
import type { SigningKey } from '../signing/signing-key.js';

/** Files whose signatures are remembered; each rules build and data file version is one entry. */
const MAX_ENTRIES = 256;

/**
 * Signatures of served files, each computed once from the file's own bytes. A file is known by its
 * identity on disk (device, inode, size, modification and change time in nanoseconds), never by its
 * name: a rebuild of the same rules writes a new file under the old name with other bytes (SQLite
 * files of equal content differ), and a rename or an in-place rewrite changes that identity. Pending
 * work is shared, so concurrent first downloads sign once.
 */
export class FileSignatures {
  private readonly byIdentity = new Map<string, Promise<FileSignature>>();

  constructor(private readonly key: SigningKey) {}

  /**
   * The signature of the open file described by `stat` (its bytes are read through `handle`). `fresh`
   * signs again even when the identity is known: an inode number can be reused by a later file, and
   * on a file system with coarse timestamps size and times could then match too.
   */
  forOpenFile(handle: FileHandle, stat: BigIntStats, fresh = false): Promise<FileSignature> {
    const identity = fileIdentity(stat);
    let pending = fresh ? undefined : this.byIdentity.get(identity);
    if (pending) {
      // Refresh its place in the eviction order.
      this.byIdentity.delete(identity);
      this.byIdentity.set(identity, pending);
      return pending;
    }
    pending = this.key.signFile(handle, Number(stat.size));
    this.byIdentity.delete(identity);
    this.byIdentity.set(identity, pending);
    // A failure is not remembered: the next download tries again.
    pending.catch(() => {
      if (this.byIdentity.get(identity) === pending) this.byIdentity.delete(identity);
    });
    while (this.byIdentity.size > MAX_ENTRIES) this.byIdentity.delete(this.byIdentity.keys().next().value as string);
    return pending;
  }

  /**
   * The signature of a freshness statement (signing/freshness-statement.ts), base64. A line of about 150
   * bytes: signed here, on the calling thread, in some 50 µs.
   */
  signStatement(statement: string): string {
    return this.key.sign(Buffer.from(statement, 'latin1'));
  }

  /** Signs a freshly built file ahead of its first download, replacing whatever its identity had. */
  async warm(path: string): Promise<void> {
    const handle = await open(path, 'r');
    try {
      await this.forOpenFile(handle, await handle.stat({ bigint: true }), true);
    } finally {
      await handle.close();
    }
  }
}

function fileIdentity(stat: BigIntStats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}
