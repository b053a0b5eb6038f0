import { HttpError } from '../server/http-error.js';

/** The header a Moat client names its batch with. */
export const BATCH_ID_HEADER = 'x-moat-batch-id';

/**
 * Letters, digits and `.`, `_`, `:`, `-`, at most 128: a UUID, and the `<id>.0` / `<id>.1` of its
 * halves after a 413 split, fit many times over.
 */
const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * A batch's id: the `X-Moat-Batch-Id` header, or `meta.batch_id` for clients that can only shape the
 * body; null when neither is given (the Wafris gem). An id that is malformed, or given twice with two
 * values, is refused (400) rather than ignored: a client that sends ids relies on them to be stored once.
 */
export function batchIdOf(header: string | string[] | undefined, body: unknown): string | null {
  const fromHeader = header === undefined ? null : checked(Array.isArray(header) ? header.join(',') : header);
  const meta = (body as { meta?: unknown } | null)?.meta;
  const raw = meta !== null && typeof meta === 'object' ? (meta as { batch_id?: unknown }).batch_id : undefined;
  const fromMeta = raw === undefined || raw === null || raw === '' ? null : checked(raw);
  if (fromHeader !== null && fromMeta !== null && fromHeader !== fromMeta) {
    throw new HttpError(400, `the ${BATCH_ID_HEADER} header and meta.batch_id differ`, 'batch_id_mismatch');
  }
  return fromHeader ?? fromMeta;
}

function checked(value: unknown): string {
  if (typeof value !== 'string' || !BATCH_ID.test(value)) {
    throw new HttpError(400, 'a batch id is 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit', 'invalid_batch_id');
  }
  return value;
}
