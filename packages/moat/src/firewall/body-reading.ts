// Reading a request body for parameter and attack rules: which bodies to read (forms, urlencoded or
// multipart, JSON when opted in, any method with a declared body), reading at most `limit` bytes without taking them from the app,
// inflating as the app's body parser would, and counting every body Moat could not judge in full.

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { bodyToRead, nodeBodyFollows, type BodyToRead } from '../http/body-kind.js';
import { bodyParams, joinParams } from '../http/request-params.js';
import { bodyTexts, parsesAsJson } from '../http/body-text.js';
import { inflateBody } from '../http/inflate-body.js';
import { parsedBodyBytes, parsedBodyJson } from '../http/parsed-body.js';
import { multipartAsForm } from '../http/multipart-form.js';
import { inflatesThroughGate, windowedInflateGate } from '../http/inflate-gate.js';
import type { MoatHttpRequest } from '../http/normalized-request.js';
import { canPeekBody, firstSignificantByte, peekBody, type OpeningGate, type PeekedBody } from '../http/peek-body.js';
import { peekWebBody, webBodyState } from '../http/web-request.js';
import type { BodyOptions, BodyOversize, FirewallEngine } from './options.js';
import type { Decision } from '../engine/decision.js';
import { OptionError } from '../errors/moat-error.js';
import type { FirewallCounters } from './stats.js';

const DEFAULT_BODY_LIMIT = 64 * 1024;

export class BodyReading {
  /** Forms or JSON are read at all; when false no body is ever planned. */
  readonly enabled: boolean;
  private readonly readsForms: boolean;
  /** `body.json` as given: true or false, or undefined for "while the engine detects attacks". */
  private readonly readsJson: boolean | undefined;
  /** Bytes read (and inflated) at most. */
  readonly limit: number;
  /** What a body longer than `limit` does to the decision (BodyOptions.oversize). */
  readonly oversize: BodyOversize;
  private readonly oversizeRule: string;

  constructor(options: BodyOptions | undefined, private readonly counters: FirewallCounters) {
    this.readsForms = options?.form !== false;
    this.readsJson = options?.json;
    this.enabled = this.readsForms || this.readsJson !== false;
    this.limit = Math.max(0, options?.limit ?? DEFAULT_BODY_LIMIT);
    const oversize = options?.oversize ?? 'judge';
    if (!OVERSIZE_MODES.includes(oversize)) {
      throw new OptionError(`body.oversize must be one of ${OVERSIZE_MODES.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(oversize)})`);
    }
    this.oversize = oversize;
    this.oversizeRule = `body longer than ${this.limit} bytes`;
  }

  /**
   * The decision for a request whose body was cut at `limit`, by `oversize`: a passing request is blocked
   * (`block`) or carries a `body-oversize` monitor match (`monitor`); an allowed or blocked one is as decided.
   */
  oversized(decision: Decision): Decision {
    const mode = this.oversize;
    if (mode === 'judge' || decision.treatment !== 'Passed') return decision;
    if (mode === 'block') {
      return { treatment: 'Blocked', category: 'body-oversize', rule: this.oversizeRule, ruleId: 'body.oversize', monitored: decision.monitored };
    }
    const match = { category: 'body-oversize' as const, rule: this.oversizeRule, ruleId: 'body.oversize' };
    return { ...decision, monitored: [...decision.monitored, match] };
  }

  /**
   * The body of a Node request to read, or null. Any method with a declared body qualifies, GET and
   * HEAD too: body-parser reads a GET's form body, so an app may act on it. What cannot be read is counted.
   */
  bodyToRead(req: IncomingMessage, headers: IncomingMessage['headers'], engine: FirewallEngine, parsedBody?: unknown): BodyToRead | null {
    if (!nodeBodyFollows(req, headers)) return null;
    const plan = this.bodyPlan(headers, engine);
    if (plan !== null && !canPeekBody(req)) {
      // Read already: what a parser made of it, if it left that on req.body, else nothing to judge.
      const bytes = parsedBodyBytes(req, parsedBody);
      if (bytes !== null) {
        const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return { ...plan, coding: 'identity', parsed: { bytes: raw.subarray(0, this.limit), complete: raw.length <= this.limit } };
      }
      const parsed = parsedBodyJson(req, this.limit, parsedBody);
      if (parsed !== null) {
        const bytes = Buffer.from(parsed.text, 'utf8');
        const complete = parsed.complete && bytes.length <= this.limit;
        return { kind: 'json', coding: 'identity', charset: 'utf-8', parsed: { bytes: bytes.subarray(0, this.limit), complete } };
      }
      this.counters.bodiesUninspected.unreadable++;
      return null;
    }
    return plan;
  }

  /** The same for a Web Request, whose body is read from a clone; one already being read is counted. */
  webBodyToRead(request: Request, headers: IncomingMessage['headers'], engine: FirewallEngine): BodyToRead | null {
    if (headers['content-length'] === '0') return null;
    const plan = this.bodyPlan(headers, engine);
    if (plan === null) return null;
    const state = webBodyState(request);
    if (state === 'readable') return plan;
    if (state === 'unreadable') this.counters.bodiesUninspected.unreadable++;
    return null;
  }

  /**
   * How to read a body by its headers alone, or null; a body Moat cannot judge is counted. JSON is read
   * when `body.json` says so, or, unset, while `engine` detects attacks: an API's inputs are its JSON.
   */
  bodyPlan(headers: IncomingMessage['headers'], engine: FirewallEngine): BodyToRead | null {
    const plan = bodyToRead(headers, this.readsJson ?? engine.rules?.attacks != null);
    if (plan === null) return null;
    if (typeof plan === 'string') {
      this.counters.bodiesUninspected[plan]++;
      return null;
    }
    if (plan.kind !== 'json' && !this.readsForms) return null;
    // Judged as sent, but a decoded reading an app's own parser may make is not.
    if (plan.coding === 'other') this.counters.bodiesUninspected.encoding++;
    return plan;
  }

  peekNode(req: IncomingMessage, plan: BodyToRead): Promise<PeekedBody | null> {
    if (plan.parsed !== undefined) return Promise.resolve(plan.parsed);
    return peekBody(req, this.limit, openingGate(plan));
  }

  peekWeb(request: Request, plan: BodyToRead): Promise<PeekedBody | null> {
    return peekWebBody(request, this.limit, openingGate(plan));
  }

  /**
   * Adds the peeked body to `request`: its parameters joined to the query's and, when the engine detects
   * attacks, its text. A body that failed to arrive adds nothing (the app sees the failure itself).
   * Rejects when the body's content cannot be turned into parameters. `busy`: a brotli or zstd body found
   * the gate's queue full (counted `busy`): its inflated reading is then missing, the rest is added. `cut`:
   * the body (as sent or inflated) was longer than `limit`, so only its beginning was added.
   */
  async addTo(request: MoatHttpRequest, peeked: Promise<PeekedBody | null>, bodyPlan: BodyToRead, engine: FirewallEngine): Promise<BodyAdded> {
    const received = await peeked;
    if (received === null) return NOTHING_ADDED;
    let sent = received;
    let plan = bodyPlan;
    // Inflated as express.urlencoded() would; at most `limit` bytes come out, whatever went in.
    const coding = plan.coding;
    const counters = this.counters;
    let inflated: PeekedBody | null = null;
    let busy = false;
    if (inflatesThroughGate(coding)) {
      const inflating = windowedInflateGate.run(() => inflateBody(received, coding, this.limit));
      // A full queue skips only this reading: the request and its body as sent are still judged, so a
      // flood of brotli or zstd bombs never opens a way past the other rules.
      if (inflating === null) {
        counters.bodiesUninspected.busy++;
        busy = true;
      } else {
        inflated = await inflating;
      }
    } else if (coding !== 'identity' && coding !== 'other') {
      inflated = await inflateBody(sent, coding, this.limit);
    }
    // JSON declared as another type, or not declared: judged only when some reading is JSON, as a json() would
    // take it; text/plain that is not JSON, as the string a text parser hands the route.
    if (plan.lenient === true && !readsAsJson(sent, inflated)) {
      // Not compressed bytes read as text, though: their noise looks like anything (an unknown coding is
      // refused by express.text(), and a known one is judged inflated, as it inflates it).
      if (plan.text !== true || (coding !== 'identity' && inflated === null)) return { busy, cut: false };
      sent = asJsonString(inflated ?? sent);
      inflated = null;
    }
    if (plan.kind === 'multipart') {
      // Its text fields, from each reading, as a form; a body no boundary opens has none to judge.
      const boundaries = plan.boundaries ?? [];
      const sentForm = multipartAsForm(sent.bytes, boundaries);
      const inflatedForm = inflated === null ? null : multipartAsForm(inflated.bytes, boundaries);
      if (sentForm === null && inflatedForm === null) {
        counters.bodiesUninspected.multipart++;
        return { busy, cut: false };
      }
      sent = { bytes: sentForm ?? EMPTY, complete: sent.complete };
      if (inflated !== null) inflated = { bytes: inflatedForm ?? EMPTY, complete: inflated.complete };
      plan = { kind: 'form', coding: plan.coding, charset: 'utf-8' };
    }
    counters.bodiesInspected++;
    const cut = !sent.complete || (inflated !== null && !inflated.complete);
    if (cut) {
      counters.bodiesTruncated++;
      counters.bodiesUninspected.tooLarge++;
    }
    let params: string | undefined = bodyParams(sent, plan.kind, plan.charset);
    // Both readings whatever the header says: Bun, Deno, Fastify and Hono's parseBody() never inflate, so
    // `gzip` over a plain form (or over a gzip whose header carries a form) reaches them as sent.
    if (inflated !== null) params = joinParams(bodyParams(inflated, plan.kind, plan.charset), params);
    request.params = joinParams(request.params, params);
    // Attack detection reads the body field by field (attacks/request-attacks.ts), not the joined params.
    if (engine.rules?.attacks) request.body = attackBody(sent, inflated, plan);
    return { busy, cut };
  }
}

/** What BodyReading.addTo() did (see there). */
export interface BodyAdded {
  busy: boolean;
  cut: boolean;
}

const NOTHING_ADDED: BodyAdded = Object.freeze({ busy: false, cut: false });
const OVERSIZE_MODES: readonly BodyOversize[] = ['judge', 'monitor', 'block'];

/** The body for attack detection: a form's readings joined by `&` (each field stays whole); for JSON, the readings that parse. */
export function attackBody(sent: PeekedBody, inflated: PeekedBody | null, plan: BodyToRead): MoatHttpRequest['body'] {
  if (plan.kind === 'form') {
    if (inflated === null || inflated.bytes.length === 0) return { kind: 'form', text: sent.bytes.toString('latin1'), bytes: sent.bytes };
    // The stream as sent, for apps that read it raw: only its fields that are text (a gzip header's name or
    // comment can carry one). Its compressed data, read as fields, looked like attacks to the detectors in
    // 10 of 2,354 benign forms (gzip, deflate, br): binary noise, which no injection is.
    const bytes = Buffer.concat([inflated.bytes, AMPERSAND, textFields(sent.bytes)]);
    return { kind: 'form', text: bytes.toString('latin1'), bytes };
  }
  // Readings: inflated and as sent, each in its declared charset and in UTF-8 (bodyTexts).
  const texts = inflated === null ? bodyTexts(sent.bytes, plan.charset) : [...bodyTexts(inflated.bytes, plan.charset), ...bodyTexts(sent.bytes, plan.charset)];
  if (texts.length === 1) return { kind: 'json', text: texts[0]! };
  // The readings that parse are those an app acts on; when none does, all are judged as one text. Several
  // can parse: Moat inflates a cut stream as far as it goes, a brotli stream of uncompressed blocks can open
  // with `\t"` and keep its headers inside a JSON string, and UTF-16 bytes of ASCII text read as UTF-8 are
  // the document with NULs (which JSON.parse refuses), but a body made for it can parse both ways. Several
  // are judged as one array.
  const parsing = texts.filter(parsesAsJson);
  if (parsing.length > 1) return { kind: 'json', text: `[${parsing.join('\n,')}]` };
  if (parsing.length === 1) return { kind: 'json', text: parsing[0]! };
  return { kind: 'json', text: texts.join('\n') };
}

const AMPERSAND = Buffer.from('&');
const EMPTY = Buffer.alloc(0);

/**
 * Whether a body of undeclared kind is JSON an app's json() may act on: a complete reading that parses,
 * or a cut one that opens like a document or a long string (`{`, `[` or `"`), which the app reads whole.
 */
function readsAsJson(sent: PeekedBody, inflated: PeekedBody | null): boolean {
  for (const body of inflated === null ? [sent] : [inflated, sent]) {
    if (!mayOpenJson(body.bytes, body.complete)) continue;
    for (const text of bodyTexts(body.bytes, 'utf-8')) {
      if (body.complete ? parsesAsJson(text) : /^[\s\ufeff]*[[{"]/.test(text)) return true;
    }
  }
  return false;
}

/**
 * False when the first byte after ASCII white space cannot open the JSON json() would take, so an
 * upload (an image, a zip) is turned away without decoding its 64 KiB as text.
 */
function mayOpenJson(bytes: Buffer, complete: boolean): boolean {
  const first = firstSignificantByte(bytes);
  return first < 0 ? complete : opensJson(first, complete);
}

/**
 * Whether `byte` may open JSON: a document or a string, and in a complete body any value (a number,
 * true, false, null). A byte of 0x80 or more may open a byte-order mark or Unicode white space: the
 * text decides then.
 */
function opensJson(byte: number, complete: boolean): boolean {
  if (byte >= 0x80 || byte === 0x7b /* { */ || byte === 0x5b /* [ */ || byte === 0x22 /* " */) return true;
  return complete && (byte === 0x2d /* - */ || (byte >= 0x30 && byte <= 0x39) || byte === 0x74 /* t */ || byte === 0x66 /* f */ || byte === 0x6e /* n */);
}

const opensJsonValue = (byte: number): boolean => opensJson(byte, true);

/**
 * A body of undeclared kind, as sent, is read on only while it may be JSON: an upload or a stream under
 * another type is handed back at its first byte instead of held until `limit` bytes came. Not for a
 * compressed one, whose bytes as sent say nothing about what it inflates to.
 */
function openingGate(plan: BodyToRead): OpeningGate | undefined {
  return plan.lenient === true && plan.text !== true && plan.coding === 'identity' ? opensJsonValue : undefined;
}

/** A text body as the JSON string a text parser makes of it (`"…"`), so it is judged as one string value. */
function asJsonString(body: PeekedBody): PeekedBody {
  return { bytes: Buffer.from(JSON.stringify(body.bytes.toString('utf8')), 'utf8'), complete: body.complete };
}

/**
 * The `&`-separated fields of `bytes`, each up to its first byte that is not text (a control byte other
 * than tab, DEL, or invalid UTF-8, where an ASCII prefix is kept). A parser that reads the stream as
 * sent keeps such bytes in the value, so the text before them is what an injection there would be; the
 * rest is compressed data, whose noise read whole looked like attacks to the detectors.
 */
function textFields(bytes: Buffer): Buffer {
  const kept: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x26) continue;
    const field = textPrefix(bytes.subarray(start, i));
    if (field.length > 0) kept.push(field, AMPERSAND);
    start = i + 1;
  }
  return Buffer.concat(kept);
}

function textPrefix(field: Buffer): Buffer {
  let end = 0;
  while (end < field.length) {
    const b = field[end]!;
    if ((b < 0x20 && b !== 0x09) || b === 0x7f) break;
    end++;
  }
  const text = field.subarray(0, end);
  if (isUtf8(text)) return text;
  let ascii = 0;
  while (ascii < text.length && text[ascii]! < 0x80) ascii++;
  return text.subarray(0, ascii);
}

