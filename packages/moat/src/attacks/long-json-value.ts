/**
 * A long JSON string value proved clean from one SIMD pass over it, instead of the native searches and
 * detectors detectAttack() runs (on a 64 KiB body of prose they were over half of its cost after
 * JSON.parse: a search per absent character, and the SQL detector at every apostrophe). The proof is the
 * form field's (raw-form-field.ts): rawFieldIsCleanMarked() of a field says detectAttack() of its
 * percent-decoded text finds nothing. A value without `%` and `+` is its own percent-decoded text, and the
 * location does not change what detectAttack() finds (only `+` is read differently in a path), so for such
 * a value the same answer holds as it is. It is scanned as a form body of one part: the sift then drops
 * what a field reading does not need, except that it would take the part's first `=` for the one between
 * a name and its value, so values holding `=` are not read here; a `&` (a form's field separator) is
 * refused by the reading like any character it searches. Values with `%`, `+`, `=` or a character above
 * 0x7f are left to detectAttack().
 */
import type { ByteScanner } from './byte-scan/byte-scanner.js';
import { RAW_FIELD_FROM, bodyScanSieve, bodyScanTables, rawFieldIsCleanMarked } from './raw-form-field.js';
import type { AttackCategorySet } from './types.js';

/** Whether detectAttack(value, location, enabled) is surely null; false: examine it as usual. */
export function longJsonValueIsClean(value: string, enabled: AttackCategorySet, scanner: ByteScanner): boolean {
  if (value.length < RAW_FIELD_FROM || value.includes('%') || value.includes('+') || value.includes('=')) return false;
  const records = scanner.scanForm(value, bodyScanTables(enabled), bodyScanSieve(enabled));
  return records >= 0 && rawFieldIsCleanMarked(value, 0, value.length, enabled, scanner, 0, records);
}
