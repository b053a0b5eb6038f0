import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { HttpError } from '../server/http-error.js';
import { describeShapeProblem, JsonShapeScanner, type JsonShapeLimits } from '../server/json-shape.js';

const gunzipAsync = promisify(gunzip);

/** Bytes checked per event-loop turn: a few milliseconds of scanning, then other requests get a turn. */
const SCAN_SLICE = 256 * 1024;

/**
 * The shape an upsync body may have. A batch is an object holding an array of flat records (a Moat
 * record may carry a short `monitored` list): five levels deep. The value budget allows 64 per record,
 * about four times what a full Moat record holds, so it only stops bodies built to be slow to parse;
 * arrays may hold twice maxRecords, so an over-long batch gets the schema's clearer answer.
 */
export function upsyncShapeLimits(maxRecords: number): JsonShapeLimits {
  return { maxDepth: 8, maxObjectKeys: 64, maxArrayItems: 2 * maxRecords + 64, maxValues: maxRecords * 64 + 1024 };
}

/**
 * An upsync body as a value: inflated when gzip (in the thread pool, output capped at maxBytes), its shape
 * checked a slice per event-loop turn, then parsed. Every failure is an HttpError or a zlib error the error
 * handler maps to a 4xx.
 */
export async function readUpsyncBody(body: Buffer, contentEncoding: string | undefined, maxBytes: number, limits: JsonShapeLimits): Promise<unknown> {
  return JSON.parse(await readUpsyncText(body, contentEncoding, maxBytes, limits));
}

/** The JSON text of an upsync body, inflated and shape-checked as readUpsyncBody does, not yet parsed. */
export async function readUpsyncText(body: Buffer, contentEncoding: string | undefined, maxBytes: number, limits: JsonShapeLimits): Promise<string> {
  const encoding = (contentEncoding ?? 'identity').toLowerCase().trim();
  let text: Buffer;
  if (encoding === 'gzip' || encoding === 'x-gzip') text = await gunzipAsync(body, { maxOutputLength: maxBytes });
  else if (encoding === 'identity') text = body;
  else throw new HttpError(415, `unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 40))}: use gzip or none`, 'unsupported_encoding');
  if (text.length === 0) throw new HttpError(400, 'the body is empty', 'malformed_body');
  const scanner = new JsonShapeScanner(limits);
  for (let at = 0; at < text.length; at += SCAN_SLICE) {
    if (at > 0) await nextTurn();
    const problem = scanner.feed(text.subarray(at, at + SCAN_SLICE));
    if (problem) {
      const { code, message } = describeShapeProblem(problem);
      throw new HttpError(400, message, code);
    }
  }
  return text.toString('utf8');
}
