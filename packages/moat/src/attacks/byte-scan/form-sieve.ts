/**
 * What the sift pass (byte-scan-module.ts) keeps of a form body's marks. On prose as a browser encodes it
 * nearly every mark is a harmless escape (`%2C`, `%3F`, `%21`) or a quote after the field's first, and
 * walking those ~1,000 marks per 64 KiB in JavaScript cost more than the scan itself (profile of
 * bench/attacks-bench.ts's browser form). The sift drops, per field (the text after the first `=` of
 * each `&`-separated part, as RequestAttackScan splits it):
 * - an escape the field reading would pass (the caller's `escapeClass` says which: never an invalid
 *   one, one of a byte above 0x7f or one the enabled categories refuse);
 * - every single quote (`'`, `%27`) but the first, every double quote (`"`, `%22`) but the first: the
 *   reading only wants where each kind first occurs;
 * - each part's first `=`, marked only to tell name from value.
 * Every other mark stays, `&` included: RequestAttackScan splits the body at the kept `&` instead of
 * searching the whole body for them again. The field reading finds the same answer from the few marks left.
 */
import { NON_ASCII_CLASS, SIEVE_ESCAPES, SIEVE_SIZE, SIEVE_TRANSITIONS } from './byte-scan-module.js';

/** Classes of a marked byte (an escape's from its two characters). */
export const HARMLESS_ESCAPE = 0;
export const KEPT = 1;
export const SINGLE_QUOTE = 2;
export const DOUBLE_QUOTE = 3;
const AMPERSAND = 4;
const EQUALS = 5;

/** State bits: in a field's value (after its first `=`), a single quote seen there, a double quote seen there. */
const IN_VALUE = 1;
const SEEN_SINGLE = 2;
const SEEN_DOUBLE = 4;
const DROP = 8;

/** transition[state << 3 | class]: the next state, | DROP when the mark goes. */
function transition(state: number, cls: number): number {
  switch (cls) {
    case HARMLESS_ESCAPE:
      return state | DROP;
    case SINGLE_QUOTE:
      return state & SEEN_SINGLE ? state | DROP : state | SEEN_SINGLE;
    case DOUBLE_QUOTE:
      return state & SEEN_DOUBLE ? state | DROP : state | SEEN_DOUBLE;
    case AMPERSAND:
      return 0;
    case EQUALS:
      // The first `=` of a part starts its value, with no quote seen yet; a later one is the value's own.
      return state & IN_VALUE ? state : IN_VALUE | DROP;
    default:
      return state;
  }
}

/**
 * The sift's tables for one set of categories: `escapeClass(c1, c2)` classes the escape `%` c1 c2 (ASCII
 * codes; HARMLESS_ESCAPE, KEPT, SINGLE_QUOTE or DOUBLE_QUOTE). The scan's byte set must hold `&` and `=`.
 */
export function formSieve(escapeClass: (c1: number, c2: number) => number): Uint8Array {
  const sieve = new Uint8Array(SIEVE_SIZE);
  sieve.fill(KEPT, 0, 128);
  sieve.fill(NON_ASCII_CLASS, 128, 256);
  sieve[0x27] = SINGLE_QUOTE;
  sieve[0x22] = DOUBLE_QUOTE;
  sieve[0x26] = AMPERSAND;
  sieve[0x3d] = EQUALS;
  for (let state = 0; state < 8; state++) for (let cls = 0; cls < 8; cls++) sieve[SIEVE_TRANSITIONS + ((state << 3) | cls)] = transition(state, cls);
  for (let c1 = 0; c1 < 128; c1++) for (let c2 = 0; c2 < 128; c2++) sieve[SIEVE_ESCAPES + (c1 | (c2 << 8))] = escapeClass(c1, c2);
  return sieve;
}
