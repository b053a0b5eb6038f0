// Shared parts of the data-swap tests: real data files (built, padded past the inline limit, damaged or
// crafted by hand the way a hostile hub could), and a real node:http app behind a managed firewall that
// believes X-Real-IP from loopback, so one client can ask as any address.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { withMoat } from '../../src/adapters/node.js';
import { dataContentHash } from '../../src/data/data-hash.js';
import type { DataLabel } from '../../src/data/data-set.js';
import type { Engine } from '../../src/engine/engine.js';
import { DATA_FORMAT, DATA_FORMAT_VERSION, DATA_LABELS_DDL, insertMeta, META_DDL, PACKED_DDL } from '../../src/format/schema.js';
import { parseRange } from '../../src/ip/range.js';
import { createManagedFirewall, type ManagedFirewall, type ManagedFirewallOptions } from '../../src/managed/managed-firewall.js';
import { RangeTable } from '../../src/ranges/range-table.js';
import { INLINE_VERIFY_MAX_BYTES } from '../../src/sync/verify-download.js';
import { dataBytes, type FakeHub, tempDir } from './fake-hub.js';

/** A rules document blocking the `tor` list: the data file decides which addresses it holds. */
export const TOR_RULES = { block: { lists: ['tor'] } };

/** A data file whose `tor` list holds `cidrs`, padded past the inline limit so it loads in the worker. */
export function torData(cidrs: string[]): Buffer {
  const ranges = cidrs.map((c) => parseRange(c));
  return padded(dataBytes({ lists: [{ name: 'tor', ranges, summary: { name: 'tor', kind: 'list', ranges: ranges.length, invalidLines: 0 } }] }));
}

/** The same file with a table of filler pages: big enough for the worker, the same ranges. */
export function padded(bytes: Buffer): Buffer {
  return edited(bytes, (db) => {
    db.exec('CREATE TABLE padding (b BLOB)');
    const insert = db.prepare('INSERT INTO padding VALUES (?)');
    const pages = Math.ceil((2 * INLINE_VERIFY_MAX_BYTES) / (64 * 1024));
    for (let i = 0; i < pages; i++) insert.run(Buffer.alloc(64 * 1024, i));
  });
}

/** The SQLite file at `path` opened writable, changed by `edit`, and closed. */
export function editDatabaseFile(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

/** `bytes` opened as a writable SQLite database, changed by `edit`, and read back. */
export function edited(bytes: Buffer, edit: (db: Database.Database) => void): Buffer {
  const { dir, cleanup } = tempDir('moat-swap-edit-');
  try {
    const path = join(dir, 'file.db');
    writeFileSync(path, bytes);
    editDatabaseFile(path, edit);
    return readFileSync(path);
  } finally {
    cleanup();
  }
}

/**
 * A Moat data file written by hand, as a hub or a man in the middle could: only what the in-memory
 * loader reads (meta, packed ranges, labels), each label's `lists` column as given, and a content hash
 * that matches (so the file passes every check that only guards against accidents).
 */
export function craftedData(table: RangeTable, lists: string[], options: { country?: (i: number) => string | null } = {}): Buffer {
  const { dir, cleanup } = tempDir('moat-swap-craft-');
  try {
    const path = join(dir, 'crafted.db');
    const db = new Database(path);
    try {
      db.pragma('journal_mode = OFF');
      const labels: DataLabel[] = lists.map((json, i) => ({ country: options.country?.(i) ?? null, asn: null, lists: safeParse(json) }));
      db.exec(META_DDL);
      db.exec(PACKED_DDL);
      db.exec(DATA_LABELS_DDL);
      insertMeta(db, { format: DATA_FORMAT, format_version: DATA_FORMAT_VERSION, built_at: 'crafted', content_hash: dataContentHash(table, labels) });
      const part = db.prepare('INSERT INTO packed_ranges (set_name, part, data) VALUES (?, ?, ?)');
      for (const [name, arr] of Object.entries(table.arrays) as [string, Uint32Array][]) {
        part.run('data', name, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
      }
      const label = db.prepare('INSERT INTO data_labels (id, country, asn, lists) VALUES (?, ?, NULL, ?)');
      db.transaction(() => lists.forEach((json, i) => label.run(i, labels[i].country, json)))();
    } finally {
      db.close();
    }
    return readFileSync(path);
  } finally {
    cleanup();
  }
}

/** The lists as the hash sees them; what the loader refuses anyway (not an array of names) counts as none. */
function safeParse(json: string): string[] {
  try {
    const lists = JSON.parse(json) as unknown;
    return Array.isArray(lists) && lists.every((l) => typeof l === 'string') ? lists : [];
  } catch {
    return [];
  }
}

/** `count` one-address IPv4 ranges two apart from 10.0.0.0, labels cycling through `labels`. */
export function tinyRanges(count: number, labels = 1): RangeTable {
  const starts = new Uint32Array(count);
  const labelIds = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    starts[i] = 0x0a000000 + i * 2;
    labelIds[i] = i % labels;
  }
  const z = new Uint32Array(0);
  return new RangeTable({ v4Starts: starts, v4Ends: starts.slice(), v4Labels: labelIds, v6Starts: z, v6Ends: z.slice(), v6Labels: z.slice() });
}

export interface SwapApp {
  fw: ManagedFirewall;
  port: number;
  /** Status of GET / as client `ip`. */
  get(ip: string): Promise<number>;
  /** Content hash of the data file the engine in place uses ('' without one). */
  dataHash(): string;
  stop(): Promise<void>;
}

/** A node:http app behind a managed firewall syncing from `hub` (data polled every `dataIntervalMs`). */
export async function swapApp(hub: FakeHub, options: Partial<ManagedFirewallOptions> = {}): Promise<SwapApp> {
  const { dir, cleanup } = tempDir('moat-swap-');
  const fw = createManagedFirewall({
    apiKey: hub.apiKey, hubUrl: hub.hubUrl, dir, customRulesIntervalMs: 60_000, dataIntervalMs: 50, jitter: 0,
    backoffBaseMs: 20, backoffMaxMs: 80, logger: false, env: {}, upsync: false,
    trustedProxies: ['loopback'], ipHeader: 'x-real-ip', ...options,
  });
  await fw.ready();
  const server: Server = createServer(withMoat((_req, res) => { res.end('ok'); }, fw));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    fw, port,
    async get(ip) {
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-real-ip': ip } });
      await res.arrayBuffer();
      return res.status;
    },
    dataHash: () => (fw.currentEngine as Engine | null)?.data?.info.hash ?? '',
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fw.close();
      cleanup();
    },
  };
}
