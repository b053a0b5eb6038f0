/**
 * One SIMD pass over an ASCII text that marks where the few bytes a check needs are (byte-scan-module.ts):
 * a 64 KiB form body is read once, 32 bytes per step, instead of ~20 times by native searches (a search
 * for `..` or `proto` alone stops at every `.` or `p` of prose). Built once per thread; when
 * WebAssembly is missing or refuses the module (`--jitless`, no SIMD), createByteScanner() returns null
 * and callers keep their native searches.
 */
import { MoatError } from '../../errors/moat-error.js';
import { PAIR_FIRST, PAIR_SECOND, SET_BITS, SIEVE_SIZE, byteScanModule } from './byte-scan-module.js';

/** The part of the WebAssembly API used here (the project's type libraries do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => WasmInstance;
}

/** Memory layout: the two nibble tables, the sift's tables (form-sieve.ts), the records written, then the input. */
const TABLES = 0;
const SIEVE = 128;
const OUT = SIEVE + SIEVE_SIZE;
/** Records (32-byte steps holding a mark) at most: 512 KiB of text marked everywhere; past that the caller searches as before. */
export const MAX_RECORDS = 16 * 1024;
const INPUT = OUT + 8 * MAX_RECORDS;
/** Zero bytes after the input: the last 32-byte step reads past the end. */
const PADDING = 32;
/** What scan() returns for a text with a character above 0x7f. */
export const NOT_ASCII = -2;
/** Texts longer than this are not scanned (memory stays at most this plus 160 KiB per thread). */
export const MAX_SCANNED = 1024 * 1024;
const PAGE = 64 * 1024;

/**
 * A set of ASCII bytes as the module's nibble tables, then the scan's constants. Six set bits: one per
 * high nibble 0, 2 and 3, one for 4 and 6 and one for 5 and 7 (two bits were wanted for the pairs:
 * a set byte 0x4n or 0x5n marks its partner 0x6n or 0x7n too, and back: `@` and `` ` ``, `[` and `{`,
 * `\\` and `|` in the sets used), one for bytes above 0x7f. The pair bits go to `.` and `p`
 * (PAIR_FIRST) and `.` and `r` (PAIR_SECOND), so `..` and `pr` mark their second byte; the nibble
 * lookup gives them to space and `~` (first) and `"` and `~` (second) as well: a few more marks, which
 * the readers check.
 */
export function byteSetTables(bytes: Iterable<number>): Uint8Array {
  const tables = new Uint8Array(64);
  tables.fill(0x0f, 32, 48);
  tables.fill(SET_BITS, 48, 64);
  const bitOfHigh = [0x01, 0, 0x04, 0x08, 0x10, 0x20, 0x10, 0x20];
  for (let h = 0; h < 8; h++) tables[16 + h] = bitOfHigh[h]!;
  for (let h = 8; h < 16; h++) tables[16 + h] = 0x02;
  for (let l = 0; l < 16; l++) tables[l] = 0x02;
  for (const b of bytes) {
    // Bytes 0x10–0x1f share no bit (bit 1 is for bytes above 0x7f), so they cannot be in a set.
    if (b < 0 || b > 0x7f || (b >> 4) === 1) throw new MoatError('MOAT_ERR_INTERNAL', `byte ${b} cannot be in a scan set`);
    tables[b & 15]! |= tables[16 + (b >> 4)]!;
  }
  // `.` 0x2e, `p` 0x70, `r` 0x72.
  tables[0x0e]! |= PAIR_FIRST | PAIR_SECOND;
  tables[0x00]! |= PAIR_FIRST;
  tables[0x02]! |= PAIR_SECOND;
  tables[16 + 2]! |= PAIR_FIRST | PAIR_SECOND;
  tables[16 + 7]! |= PAIR_FIRST | PAIR_SECOND;
  return tables;
}

export class ByteScanner {
  private readonly memory: WasmMemory;
  private readonly scanFn: (input: number, length: number, out: number, cap: number) => number;
  private readonly siftFn: (input: number, out: number, count: number, sieve: number) => number;
  private readonly countFn: (from: number, to: number, byte: number) => number;
  private bytes: Buffer;
  /** The sieve in memory (32 KiB, copied again only when another set of categories is read). */
  private sieve: Uint8Array | null = null;
  /**
   * The records of the last scan (valid up to the count it returned): at 2k the offset of a 32-byte
   * step, at 2k + 1 the bit mask of its marked bytes (bit j: the byte at offset + j).
   */
  marks: Int32Array;

  constructor(instance: WasmInstance) {
    this.memory = instance.exports.memory as WasmMemory;
    this.scanFn = instance.exports.scan as ByteScanner['scanFn'];
    this.siftFn = instance.exports.sift as ByteScanner['siftFn'];
    this.countFn = instance.exports.count as ByteScanner['countFn'];
    if (typeof this.scanFn !== 'function' || typeof this.siftFn !== 'function' || typeof this.countFn !== 'function') throw new MoatError('MOAT_ERR_INTERNAL', 'the byte scan module lacks its functions');
    this.bytes = Buffer.from(this.memory.buffer);
    this.marks = new Int32Array(this.memory.buffer, OUT, 2 * MAX_RECORDS);
  }

  /**
   * Marks in `text` the bytes in `tables`' set and the second byte of each `..` and `pr` (and of a few
   * look-alikes, byteSetTables says which), into `marks`; returns how many records, -1 when the text is too long or needs
   * more than MAX_RECORDS, or NOT_ASCII when it holds a character above 0x7f (the scan reads one byte per
   * character, exact for ASCII only).
   */
  scan(text: string, tables: Uint8Array): number {
    const n = text.length;
    if (!this.room(n)) return -1;
    // The copy is the ASCII check: any other character takes two or more UTF-8 bytes, so with room for
    // n + 4 at least n + 1 are written (a truncated write stops at most 3 short). One pass, where
    // Buffer.byteLength then a latin1 write took two: 5.5 against 9.8 µs per 64 KiB.
    if (this.bytes.write(text, INPUT, n + 4, 'utf8') !== n) return NOT_ASCII;
    return this.scanCopied(n, tables);
  }

  /**
   * scan(), then the marks a form body's field reading needs no more dropped (form-sieve.ts): `tables`
   * must mark `&` and `=`, `sieve` is formSieve() of the same categories. Returns the records left, -1
   * or NOT_ASCII. `raw`, when given, must be the bytes whose latin1 is `text` (a form body as received):
   * copied as they are, the text left unread, and checked for ASCII by the sift itself (the tables mark
   * every byte above 0x7f, the sieve classes them apart). The UTF-8 write of the text took 5.5 µs per
   * 64 KiB; the plain copy about a quarter of that (profile of bench/attacks-bench.ts's browser form).
   */
  scanForm(text: string, tables: Uint8Array, sieve: Uint8Array, raw?: Uint8Array): number {
    const n = text.length;
    let count: number;
    if (raw !== undefined && raw.length === n) {
      if (!this.room(n)) return -1;
      this.bytes.set(raw, INPUT);
      count = this.scanCopied(n, tables);
    } else count = this.scan(text, tables);
    if (count <= 0) return count;
    if (this.sieve !== sieve) {
      this.bytes.set(sieve, SIEVE);
      this.sieve = sieve;
    }
    const kept = this.siftFn(INPUT, OUT, count, SIEVE);
    return kept === -2 ? NOT_ASCII : kept;
  }

  /** Whether a text of `n` characters can be scanned: not too long, and memory for it (grown if need be). */
  private room(n: number): boolean {
    if (n > MAX_SCANNED) return false;
    // Memory the process cannot grant (grow throws) leaves the body to the native searches.
    return INPUT + n + PADDING <= this.bytes.length || this.grow(INPUT + n + PADDING);
  }

  /** The scan of the `n` bytes copied at INPUT. */
  private scanCopied(n: number, tables: Uint8Array): number {
    const bytes = this.bytes;
    bytes.set(tables, TABLES);
    bytes.fill(0, INPUT + n, INPUT + n + PADDING);
    return this.scanFn(INPUT, n, OUT, MAX_RECORDS);
  }

  /** How many times `byte` occurs in the last text scanned, from index `from` to `to` (within it). */
  countInScanned(from: number, to: number, byte: number): number {
    return this.countFn(INPUT + from, INPUT + to, byte);
  }

  private grow(size: number): boolean {
    try {
      this.memory.grow(Math.ceil((size - this.memory.buffer.byteLength) / PAGE));
    } catch {
      return false;
    }
    this.bytes = Buffer.from(this.memory.buffer);
    this.marks = new Int32Array(this.memory.buffer, OUT, 2 * MAX_RECORDS);
    return true;
  }
}

/** A scanner from `module` (the real one by default), or null when WebAssembly cannot run it. */
export function createByteScanner(module: Uint8Array = byteScanModule(Math.ceil((INPUT + 64 * 1024 + PADDING) / PAGE))): ByteScanner | null {
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (wasm === undefined) return null;
    return new ByteScanner(new wasm.Instance(new wasm.Module(module)));
  } catch {
    return null;
  }
}

let shared: ByteScanner | null | undefined;

/** The thread's scanner, made on first use (evaluation is synchronous, so one per thread is enough). */
export function sharedByteScanner(): ByteScanner | null {
  if (shared === undefined) shared = createByteScanner();
  return shared;
}
