// Parameter values whose names look secret never leave the process: `password=hunter2` is reported as
// `password=[redacted]`. Names match by case-insensitive substring, so `user[password]`, `api_key` and
// `X-Auth-Token` are caught too; a false positive costs one hidden value, a miss leaks a credential.
//
// Redaction works on the structure of the parameters before decoding: in decoded text
// `password=Pa55&w0rd=42` cannot be told apart from two parameters, so the raw query is split on its
// own separators first (`&`, and `;` which some servers also split on), each name is decoded (up to
// three times, for double encoding) and tested, and a sensitive name hides its whole raw value. Text
// that only exists decoded (form and JSON bodies) has no reliable structure: there everything from a
// sensitive name on is hidden.
import { percentDecode } from '../http/percent-decode.js';
import { decodeParams } from '../http/request-params.js';

export const DEFAULT_REDACTED_PARAMS: readonly string[] = ['password', 'passwd', 'token', 'secret', 'key', 'authorization', 'auth', 'session', 'cookie', 'otp', 'pin', 'card', 'cvv', 'ssn'];

export const REDACTED = '[redacted]';

/** Decoding rounds tried on a name or value: `%2570` is `%70` once decoded, `p` twice. */
const DECODE_ROUNDS = 3;

export interface ParamRedactor {
  /** A raw (still percent-encoded) query, reported decoded with sensitive values hidden. */
  query(raw: string): string;
  /** Already decoded parameter text (bodies): from the first sensitive name on, everything is hidden. */
  decoded(text: string): string;
}

/** Builds the redactor once: regular expressions over the configured names. */
export function paramRedactor(names: readonly string[]): ParamRedactor {
  const words = names.map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  if (words.length === 0) return { query: (raw) => decodeParams(raw), decoded: (text) => text };
  const alternatives = words.map(escapeRegExp).join('|');
  const sensitiveName = new RegExp(alternatives, 'i');
  // A value that itself reads as parameters with a sensitive name (`a=x%26password%3Dsecret`): an app
  // that decodes twice would see a password there.
  const nestedParams = new RegExp(`(?:^|[&;?])[^&;=]*(?:${alternatives})[^&;=]*=`, 'i');
  const isSensitiveName = (name: string) => anyDecoding(name, (text) => sensitiveName.test(text));
  const hidesParams = (value: string) => anyDecoding(value, (text) => nestedParams.test(text));

  return {
    query(raw) {
      if (raw === '') return raw;
      const out: string[] = [];
      for (const segment of raw.split('&')) out.push(redactSegment(segment, isSensitiveName, hidesParams));
      return out.join('&');
    },
    decoded(text) {
      if (text === '') return text;
      const parts = text.split(/[&;]/);
      let length = 0;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        const eq = part.indexOf('=');
        const name = eq < 0 ? part : part.slice(0, eq);
        if (isSensitiveName(name) || (eq >= 0 && hidesParams(part.slice(eq + 1)))) {
          const shown = eq < 0 ? REDACTED : `${name}=${REDACTED}`;
          const rest = i < parts.length - 1 ? `&${REDACTED}` : '';
          return (length === 0 ? '' : `${text.slice(0, length)}&`) + shown + rest;
        }
        length += (i === 0 ? 0 : 1) + part.length;
      }
      return text;
    },
  };
}

/**
 * One `&`-separated piece of a raw query. Its `;`-separated parts are judged one by one; once a part
 * is sensitive the rest of the piece is hidden too, since a server that does not split on `;` reads
 * all of it as that value.
 */
function redactSegment(segment: string, isSensitiveName: (name: string) => boolean, hidesParams: (value: string) => boolean): string {
  const parts = segment.split(';');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const hasMore = i < parts.length - 1;
    if (isSensitiveName(name)) {
      // A bare sensitive part (`secret:abc`) may be a value itself; a name with nothing after it hides nothing.
      if (eq < 0) out.push(REDACTED);
      else out.push(`${decodeParams(name)}=${eq === part.length - 1 && !hasMore ? '' : REDACTED}`);
      break;
    }
    if (eq >= 0 && hidesParams(part.slice(eq + 1))) {
      out.push(`${decodeParams(name)}=${REDACTED}`);
      break;
    }
    out.push(decodeParams(part));
  }
  return out.join(';');
}

/** True when `test` holds for `text` or one of its decodings (up to DECODE_ROUNDS). */
function anyDecoding(text: string, test: (text: string) => boolean): boolean {
  let current = text;
  for (let round = 0; round <= DECODE_ROUNDS; round++) {
    if (test(current)) return true;
    const next = percentDecode(current, true);
    if (next === current) return false;
    current = next;
  }
  return false;
}

/**
 * The `parameter` field of a report: the query redacted on its raw structure, then the body's
 * parameters (only in decoded form) redacted with the stricter rule. `params` is the firewall's
 * decoded text: the decoded query, then `&` and the body's parameters when it read the body.
 */
export function reportedParameters(target: string, params: string | undefined, redactor: ParamRedactor): string {
  const q = target.indexOf('?');
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  if (params === undefined || params === '') return rawQuery === '' ? '' : redactor.query(rawQuery);
  if (rawQuery === '') return redactor.decoded(params);
  const decodedQuery = decodeParams(rawQuery);
  if (params === decodedQuery) return redactor.query(rawQuery);
  if (params.startsWith(`${decodedQuery}&`)) {
    return `${redactor.query(rawQuery)}&${redactor.decoded(params.slice(decodedQuery.length + 1))}`;
  }
  // The two do not line up (one of them was cut): the stricter rule over all of it.
  return redactor.decoded(params);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
