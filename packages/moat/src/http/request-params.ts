// The parameter string rules see: query and form parameters, percent-decoded (`+` as space), joined
// with `&` in the order they came; an opted-in JSON body flattened to the same `key=value` text.
// Decoding once means `%3Cscript` and `<script` look the same to a rule; keeping the order keeps the
// string stable for the same request.

import type { BodyCharset, BodyKind } from './body-kind.js';
import { bodyTexts, jsonReadings } from './body-text.js';
import type { PeekedBody } from './peek-body.js';
import { percentDecode } from './percent-decode.js';

/** Decoded `a=1&b=2` text of a raw query or urlencoded body. Never throws. */
export function decodeParams(raw: string): string {
  return percentDecode(raw, true);
}

/** Joins the decoded query and body parameters; undefined when there are none. */
export function joinParams(query: string | undefined, body: string | undefined): string | undefined {
  if (!query) return body || undefined;
  if (!body) return query;
  return `${query}&${body}`;
}

/**
 * A peeked (and, if it was compressed, inflated) body as parameter text: a form is decoded like a
 * query; JSON is flattened. A body cut at the size limit is judged on what was read (for JSON, as raw
 * text, since it no longer parses).
 */
export function bodyParams(body: PeekedBody, kind: BodyKind, charset: BodyCharset = 'utf-8'): string {
  // latin1 keeps every byte as one character; decoding then reads them as UTF-8.
  if (kind === 'form') return decodeParams(body.bytes.toString('latin1'));
  const texts = bodyTexts(body.bytes, charset);
  let params = '';
  for (const text of body.complete ? jsonReadings(texts) : texts) params = joinParams(params, body.complete ? jsonToParams(text) : text) ?? '';
  return params;
}

// JSON bodies (opt-in): nested keys joined with `.`, values as text. Flattening parsed JSON defeats
// escape tricks (`\u003cscript`) that a substring match over the raw text would miss.

/** Bounds, so a deeply nested or huge document costs a bounded amount of work and no deep recursion. */
const MAX_KEY_DEPTH = 32;
const MAX_ENTRIES = 10_000;
/**
 * Every leaf repeats its whole key, so a long key over a long array (`{"kkk…":[0,0,…]}`) would flatten a
 * 64 KiB body to ~450 million characters (seconds of work for every rule pass). Flattened text is kept to
 * this many times the document's length (plus a floor for small documents); ordinary JSON, GeoJSON's
 * short coordinates under long keys included, stays well inside it.
 */
const MAX_FLAT_FACTOR = 8;
const MIN_FLAT_BUDGET = 64 * 1024;

/**
 * Flattens a JSON document; invalid JSON comes back as its raw text, so it is still inspected. A document
 * of more entries than MAX_ENTRIES, or whose flattened text would pass the budget above, is judged on
 * the entries flattened so far followed by its whole raw text: nothing past a bound goes unread (10 000
 * zeros before a `"<script>"` once hid it), though escapes there stay as written.
 */
export function jsonToParams(text: string): string {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return text;
  }
  const out: string[] = [];
  const budget = MAX_FLAT_FACTOR * text.length + MIN_FLAT_BUDGET;
  let length = 0;
  // Explicit stack (children pushed in reverse to keep document order): depth is attacker-chosen.
  const stack: { value: unknown; key: string; depth: number }[] = [{ value: root, key: '', depth: 0 }];
  let cut = false;
  while (stack.length > 0) {
    if (out.length >= MAX_ENTRIES) {
      cut = true;
      break;
    }
    const { value, key, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') {
      // Concatenations are ropes until joined: measuring an entry costs nothing like copying it.
      const entry = `${key}=${value === null ? 'null' : String(value)}`;
      length += entry.length + 1;
      if (length > budget) {
        cut = true;
        break;
      }
      out.push(entry);
      continue;
    }
    const entries = Array.isArray(value) ? [...value.entries()] : Object.entries(value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, v] = entries[i]!;
      // Past the depth limit, values keep the last key rather than growing it without bound.
      const childKey = depth >= MAX_KEY_DEPTH ? key : key === '' ? String(k) : `${key}.${String(k)}`;
      stack.push({ value: v, key: childKey, depth: depth + 1 });
    }
  }
  if (cut) out.push(text);
  return out.join('&');
}
