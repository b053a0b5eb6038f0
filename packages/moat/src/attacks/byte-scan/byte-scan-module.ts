/**
 * The bytes of a small WebAssembly module, assembled here instruction by instruction (no toolchain, no
 * dependency; the WAT each line stands for is written beside it). It exports `memory` and three functions:
 *
 *   scan(input: i32, length: i32, out: i32, cap: i32) -> i32
 *
 * which reads `length` bytes from `input` 32 at a time (two SIMD blocks) and marks each byte that is
 *   - in a set of bytes given as two 16-byte nibble tables at memory 0 (low nibble) and 16 (high
 *     nibble): byte b is in the set when lowTable[b & 15] & highTable[b >> 4] & SET_BITS is not zero;
 *   - or the second byte of a pair: bit PAIR_FIRST of the byte before and bit PAIR_SECOND of this one
 *     (the same lookup, byteSetTables puts `..` and `pr` there, and a few look-alikes).
 * The pair costs four instructions per 16 bytes, on the lookup already made: the previous byte's bits
 * (one byte-align of the last block's and this one's), shifted one bit so PAIR_FIRST lands on
 * PAIR_SECOND, or-ed with SET_BITS, and-ed in. Four 16-bit compares on a second, unaligned load, and
 * their ors, took nine. The shift also moves set bit 5 onto PAIR_FIRST (a pair's first byte after a set
 * byte 0x5n or 0x7n is marked: rare, and the readers ignore it) and, in a 16-bit lane, a byte's bit 7
 * onto the next byte's bit 0: a set bit, and-ed with that byte's own, so it marks nothing new.
 * For each 32-byte step holding a mark it writes a record of two i32 at `out`: the step's offset from
 * `input`, then a bit mask of its marked bytes (bit k: the byte at offset + k). It returns how many
 * records it wrote, or -1 when there would be more than `cap`.
 * The 32 bytes after the input must be zero (the last step reads them; zero is in no set).
 * Its constants are read from memory too, after the tables: 16 bytes 0x0f at 32, then 16 × SET_BITS at 48
 * (byteSetTables writes all 64 bytes). Given as constants, TurboFan rebuilt each splat in
 * every step (three instructions apiece, read in the generated code with --print-wasm-code); loaded,
 * they stay in registers.
 *
 * A second function sifts those records for a form body (form-sieve.ts says which marks go):
 *
 *   sift(input: i32, out: i32, count: i32, sieve: i32) -> i32
 *
 * walks each marked byte once through a small state machine (a byte's class from the tables at `sieve`,
 * then one transition-table lookup: no branch per mark), clears the marks it drops, keeps the records
 * left with a mark (in place, in order) and returns how many, or -2 when a marked byte is above 0x7f
 * (its class is NON_ASCII_CLASS: the ASCII check of bytes copied as they are). A third counts one byte
 * in a stretch:
 *
 *   count(from: i32, to: i32, byte: i32) -> i32
 *
 * (16 bytes per step; it reads up to 15 bytes past `to`, which must be memory). */

// Value types and the opcodes used (WebAssembly core 2.0, SIMD proposal numbering).
const I32 = 0x7f;
const V128 = 0x7b;
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const RETURN = 0x0f;
const VOID = 0x40;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_STORE = 0x36;
const I32_CONST = 0x41;
const I32_GE_U = 0x4f;
const I32_NE = 0x47;
const I32_ADD = 0x6a;
const I32_LOAD = 0x28;
const I32_LOAD8_U = 0x2d;
const I32_LOAD16_U = 0x2f;
const I32_EQZ = 0x45;
const I32_EQ = 0x46;
const I32_CTZ = 0x68;
const I32_XOR = 0x73;
const I32_SHR_U = 0x76;
const SELECT = 0x1b;
const I32_POPCNT = 0x69;
const I8X16_EQ = 0x23;
const I32_SUB = 0x6b;
const I32_AND = 0x71;
const I32_OR = 0x72;
const I32_SHL = 0x74;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const I8X16_SHUFFLE = 0x0d;
const I8X16_SWIZZLE = 0x0e;
const I8X16_SPLAT = 0x0f;
const I16X8_SHL = 0x8b;
const V128_AND = 0x4e;
const V128_OR = 0x50;
const I8X16_BITMASK = 0x64;
const I16X8_SHR_U = 0x8d;

/** Unsigned LEB128. */
function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
function s32(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...u32(body.length), ...body];
}

function name(s: string): number[] {
  return [...u32(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

// Locals: the four parameters, then the function's own.
const INPUT = 0;
const LENGTH = 1;
const OUT = 2;
const CAP = 3;
const AT = 4; // i32: address of the block being read
const END_AT = 5; // i32: input + length
const BITS = 6; // i32: bit mask of the step's marked bytes
const COUNT = 7; // i32: records written
const RECORD = 8; // i32: address of the record being written
const BLOCK_V = 9; // v128: the block
const LOW_TABLE = 10;
const HIGH_TABLE = 11;
const NIBBLE = 12; // splat 0x0f
const SET_MASK = 13; // splat SET_BITS
const PREV_M = 14; // v128: the lookup of the block before (its last byte is the one before this block)
const ZERO = 15;
const CUR_M = 16; // v128: the lookup of the block

/** The lookup's bits: 0–5 say a byte is in the set, 6 and 7 that it may start or end a pair. */
export const SET_BITS = 0x3f;
export const PAIR_FIRST = 0x40;
export const PAIR_SECOND = 0x80;

const get = (local: number) => [LOCAL_GET, local];
const set = (local: number) => [LOCAL_SET, local];
const i32 = (n: number) => [I32_CONST, ...s32(n)];
const simd = (op: number) => [SIMD, ...u32(op)];
/** v128.load offset=`offset` (alignment hint 1 byte: the input is read at any address). */
const load = (offset: number) => [SIMD, ...u32(V128_LOAD), 0, ...u32(offset)];

/**
 * Leaves on the stack a vector that is non-zero in each byte of the block at `at + offset` that is
 * marked: in the set, or the second byte of a pair (PAIR_FIRST before it, PAIR_SECOND in it).
 */
const marksOf = (offset: number) => [
  ...get(AT), ...load(offset), ...set(BLOCK_V),
  // m = swizzle(lo, v & 0x0f) & swizzle(hi, v >> 4)
  ...get(LOW_TABLE), ...get(BLOCK_V), ...get(NIBBLE), ...simd(V128_AND), ...simd(I8X16_SWIZZLE),
  // The high nibble by a 16-bit shift and a mask: one instruction each on x64, where a byte shift is emulated by several.
  ...get(HIGH_TABLE), ...get(BLOCK_V), ...i32(4), ...simd(I16X8_SHR_U), ...get(NIBBLE), ...simd(V128_AND), ...simd(I8X16_SWIZZLE),
  ...simd(V128_AND), ...set(CUR_M),
  // m & ((previous bytes' m << 1) | SET_BITS); the previous bytes: lanes 15–30 of prev ++ m (one palignr).
  ...get(CUR_M),
  ...get(PREV_M), ...get(CUR_M), ...simd(I8X16_SHUFFLE), ...Array.from({ length: 16 }, (_, k) => 15 + k),
  ...i32(1), ...simd(I16X8_SHL), ...get(SET_MASK), ...simd(V128_OR), ...simd(V128_AND),
  ...get(CUR_M), ...set(PREV_M),
];

const body = [
  // lo = v128.load(0); hi = v128.load(16); the splatted constants
  ...i32(0), ...load(0), ...set(LOW_TABLE),
  ...i32(0), ...load(16), ...set(HIGH_TABLE),
  ...i32(0), ...load(32), ...set(NIBBLE), ...i32(0), ...load(48), ...set(SET_MASK),
  // at = input; end = input + length (count starts at 0, the locals' default)
  ...get(INPUT), ...set(AT),
  ...get(INPUT), ...get(LENGTH), I32_ADD, ...set(END_AT),
  BLOCK, VOID,
  LOOP, VOID,
  // (br_if 1 (i32.ge_u at end))
  ...get(AT), ...get(END_AT), I32_GE_U, BR_IF, 1,
  // bits = ~(bitmask(unmarked bytes of the block at `at`) | bitmask(unmarked bytes of the next block) << 16):
  // x64 has a byte compare for equal and none for not equal (i8x16.ne takes three instructions), so the
  // unmarked bytes are found and the 32-bit mask inverted once.
  ...marksOf(0), ...get(ZERO), ...simd(I8X16_EQ), ...simd(I8X16_BITMASK),
  ...marksOf(16), ...get(ZERO), ...simd(I8X16_EQ), ...simd(I8X16_BITMASK), ...i32(16), I32_SHL, I32_OR, ...i32(-1), I32_XOR, ...set(BITS),
  // (if (i32.ge_u count cap) (return (i32.const -1)))
  ...get(COUNT), ...get(CAP), I32_GE_U, IF, VOID, ...i32(-1), RETURN, END,
  // The record is written whatever the bits and kept only when some are set: no branch to mispredict
  // on prose, where every other step holds a mark. i32.store(out + count * 8, at - input), then bits at +4.
  ...get(OUT), ...get(COUNT), ...i32(3), I32_SHL, I32_ADD, ...set(RECORD),
  ...get(RECORD), ...get(AT), ...get(INPUT), I32_SUB, I32_STORE, 2, 0,
  ...get(RECORD), ...get(BITS), I32_STORE, 2, 4,
  // count += (bits != 0)
  ...get(COUNT), ...get(BITS), ...i32(0), I32_NE, I32_ADD, ...set(COUNT),
  // at += 32
  ...get(AT), ...i32(32), I32_ADD, ...set(AT),
  BR, 0,
  END, END, // loop, block
  ...get(COUNT),
  END,
];

/** Local declarations: 5 i32 (at, end, bits, count, record), then 8 v128 (block, tables, constants, lookups; PREV_M starts zero). */
const locals = [2, 5, I32, 8, V128];
const code = [...locals, ...body];

// sift's locals: the four parameters, then its own (all i32).
const S_INPUT = 0;
const S_OUT = 1;
const S_COUNT = 2;
const S_SIEVE = 3;
const S_READ = 4; // records read
const S_KEPT = 5; // records kept
const S_OFFSET = 6; // the record's step offset
const S_BITS = 7; // its marks not yet walked
const S_KEEP = 8; // its marks kept so far
const S_J = 9; // the mark's bit
const S_AT = 10; // the mark's address
const S_STATE = 11; // the state machine's state
const S_TRANSITION = 12; // the table's answer: new state | drop << 3
const S_BASE = 13; // input + the step's offset
const S_BYTE = 14; // the marked byte
const S_CLASS = 15; // its class
const S_CLASSES = 16; // every class seen, or-ed: NON_ASCII_CLASS tells a byte above 0x7f

/** load8_u / load16_u / load with a constant offset (alignment hints: 1, 1 and 4 bytes). */
const load8 = (offset: number) => [I32_LOAD8_U, 0, ...u32(offset)];
const load16 = (offset: number) => [I32_LOAD16_U, 0, ...u32(offset)];
const load32 = (offset: number) => [I32_LOAD, 2, ...u32(offset)];

/** Where form-sieve.ts puts its tables, from `sieve`: byte classes, transitions, escape classes. */
export const SIEVE_TRANSITIONS = 256;
export const SIEVE_ESCAPES = 320;
/**
 * The class form-sieve.ts gives bytes above 0x7f (the scan's tables always mark them): seen once, sift
 * returns -2. Past the transition table's classes, its lookup reads a wrong but in-bounds entry: the
 * marks kept no longer matter then.
 */
export const NON_ASCII_CLASS = 8;
/** Escape classes by the two characters after `%` read as one little-endian 16-bit load, c1 | c2 << 8 (both ASCII). */
export const SIEVE_SIZE = SIEVE_ESCAPES + 0x7f7f + 1;

const siftBody = [
  BLOCK, VOID,
  LOOP, VOID,
  ...get(S_READ), ...get(S_COUNT), I32_GE_U, BR_IF, 1,
  ...get(S_OUT), ...get(S_READ), ...i32(3), I32_SHL, I32_ADD, ...load32(0), ...set(S_OFFSET),
  ...get(S_OUT), ...get(S_READ), ...i32(3), I32_SHL, I32_ADD, ...load32(4), ...set(S_BITS),
  ...get(S_BITS), ...set(S_KEEP),
  ...get(S_INPUT), ...get(S_OFFSET), I32_ADD, ...set(S_BASE),
  // A record holds at least one mark: the marks are walked do-while, one branch each.
  LOOP, VOID,
  // j = ctz(bits); bits &= bits - 1; at = input + offset + j
  ...get(S_BITS), I32_CTZ, ...set(S_J),
  ...get(S_BITS), ...get(S_BITS), ...i32(1), I32_SUB, I32_AND, ...set(S_BITS),
  ...get(S_BASE), ...get(S_J), I32_ADD, ...set(S_AT),
  // transition = table[state << 3 | class], class = byte == '%' ? escapes[c1 | c2 << 8] : classes[byte]:
  // both classes are read and one selected, so prose's mix of escapes and quotes costs no misprediction.
  ...get(S_SIEVE), ...get(S_STATE), ...i32(3), I32_SHL, I32_ADD,
  ...get(S_SIEVE), ...get(S_AT), ...load16(1), ...i32(0x7f7f), I32_AND, I32_ADD, ...load8(SIEVE_ESCAPES),
  ...get(S_SIEVE), ...get(S_AT), ...load8(0), LOCAL_TEE, S_BYTE, I32_ADD, ...load8(0),
  ...get(S_BYTE), ...i32(0x25), I32_EQ,
  SELECT, LOCAL_TEE, S_CLASS,
  I32_ADD, ...load8(SIEVE_TRANSITIONS), ...set(S_TRANSITION),
  ...get(S_CLASSES), ...get(S_CLASS), I32_OR, ...set(S_CLASSES),
  ...get(S_TRANSITION), ...i32(7), I32_AND, ...set(S_STATE),
  // keep ^= (transition >> 3) << j: the mark's bit is set, so a drop clears it.
  ...get(S_KEEP), ...get(S_TRANSITION), ...i32(3), I32_SHR_U, ...get(S_J), I32_SHL, I32_XOR, ...set(S_KEEP),
  ...get(S_BITS), BR_IF, 0,
  END,
  // The record goes back at `kept` (never past `read`: nothing unread is overwritten), kept when a mark is left.
  ...get(S_OUT), ...get(S_KEPT), ...i32(3), I32_SHL, I32_ADD, ...get(S_OFFSET), I32_STORE, 2, 0,
  ...get(S_OUT), ...get(S_KEPT), ...i32(3), I32_SHL, I32_ADD, ...get(S_KEEP), I32_STORE, 2, 4,
  ...get(S_KEPT), ...get(S_KEEP), ...i32(0), I32_NE, I32_ADD, ...set(S_KEPT),
  ...get(S_READ), ...i32(1), I32_ADD, ...set(S_READ),
  BR, 0,
  END, END,
  // (select kept -2 (i32.eqz (classes & NON_ASCII_CLASS))): -2 when a byte above 0x7f was marked
  ...get(S_KEPT), ...i32(-2), ...get(S_CLASSES), ...i32(NON_ASCII_CLASS), I32_AND, I32_EQZ, SELECT,
  END,
];
const siftCode = [1, 13, I32, ...siftBody];

// count's locals: from, to, byte, then how many so far, the bytes left, the byte splatted.
const C_AT = 0;
const C_TO = 1;
const C_BYTE = 2;
const C_FOUND = 3;
const C_LEFT = 4;
const C_SPLAT = 5;

const countBody = [
  ...get(C_BYTE), ...simd(I8X16_SPLAT), ...set(C_SPLAT),
  BLOCK, VOID,
  LOOP, VOID,
  ...get(C_AT), ...get(C_TO), I32_GE_U, BR_IF, 1,
  ...get(C_TO), ...get(C_AT), I32_SUB, ...set(C_LEFT),
  // found += popcnt(bitmask(block == byte) & (left >= 16 ? 0xffff : (1 << left) - 1))
  ...get(C_FOUND),
  ...get(C_AT), ...load(0), ...get(C_SPLAT), ...simd(I8X16_EQ), ...simd(I8X16_BITMASK),
  ...i32(0xffff), ...i32(1), ...get(C_LEFT), I32_SHL, ...i32(1), I32_SUB, ...get(C_LEFT), ...i32(16), I32_GE_U, SELECT,
  I32_AND, I32_POPCNT, I32_ADD, ...set(C_FOUND),
  ...get(C_AT), ...i32(16), I32_ADD, ...set(C_AT),
  BR, 0,
  END, END,
  ...get(C_FOUND),
  END,
];
const countCode = [2, 2, I32, 1, V128, ...countBody];

/** The module's bytes; `pages`: the memory's initial size in 64 KiB pages. */
export function byteScanModule(pages: number): Uint8Array {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // type 0: (i32 i32 i32 i32) -> i32, type 1: (i32 i32 i32) -> i32
    ...section(1, [2, 0x60, 4, I32, I32, I32, I32, 1, I32, 0x60, 3, I32, I32, I32, 1, I32]),
    // functions 0 (scan) and 1 (sift) have type 0, function 2 (count) type 1
    ...section(3, [3, 0, 0, 1]),
    // one memory, no maximum
    ...section(5, [1, 0x00, ...u32(pages)]),
    // exports: "scan", "sift", "count" (functions 0–2), "memory" (memory 0)
    ...section(7, [4, ...name('scan'), 0x00, 0, ...name('sift'), 0x00, 1, ...name('count'), 0x00, 2, ...name('memory'), 0x02, 0]),
    ...section(10, [3, ...u32(code.length), ...code, ...u32(siftCode.length), ...siftCode, ...u32(countCode.length), ...countCode]),
  ]);
}
