// The JSON text of a parsed body (http/parsed-body.ts): the same text JSON.stringify() writes for what
// body parsers make, and cut at the limit without writing the whole of a large document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { parsedBodyJson } from '../src/http/parsed-body.js';

const requestWith = (body: unknown, ended = true) => ({ readableEnded: ended, body }) as unknown as IncomingMessage;

test('parsed bodies are written as JSON.stringify() writes them', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
    const expected = JSON.stringify(value);
    const got = parsedBodyJson(requestWith(value), 1 << 20);
    if (typeof value !== 'object' || value === null) {
      // Only objects, arrays and non-empty strings are a parser's output worth judging.
      if (typeof value === 'string' && value !== '') assert.deepEqual(got, { text: expected, complete: true });
      else assert.equal(got, null);
      return;
    }
    if (expected === '{}' || expected === '[]') assert.equal(got, null);
    else assert.deepEqual(got, { text: expected, complete: true });
  }), { numRuns: 500 });
  // What parsers hand over besides plain JSON: a Date (toJSON), undefined and functions left out, a prototype-less object (qs).
  const qs = Object.assign(Object.create(null) as object, { a: ['1', { b: undefined }], d: new Date(0), f: () => 1 });
  assert.deepEqual(parsedBodyJson(requestWith(qs), 1000), { text: JSON.stringify(qs), complete: true });
});

test('nothing to judge: no body, raw bytes, an empty object, a stream not read to its end', () => {
  for (const body of [undefined, null, '', {}, [], Buffer.from('a=1'), new Uint8Array(3), 42]) assert.equal(parsedBodyJson(requestWith(body), 100), null);
  assert.equal(parsedBodyJson(requestWith({ a: 1 }, false), 100), null);
});

test('a large parsed body is cut at the limit, however it is large: many keys, one long string, deep nesting', () => {
  const many = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, '<script>']));
  const long = { note: 'x'.repeat(5_000_000) };
  let deep: unknown = { end: true };
  for (let i = 0; i < 10_000; i++) deep = { d: deep };
  // Nesting past 64 levels is left out, so the text is not complete even when it is short.
  for (const body of [many, long, deep]) {
    const got = parsedBodyJson(requestWith(body), 1024)!;
    assert.equal(got.complete, false);
    assert.ok(got.text.length <= 1024);
    assert.ok(got.text.startsWith('{"'));
  }
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  assert.equal(parsedBodyJson(requestWith(cycle), 100_000)!.complete, false, 'a cycle ends at the limit, not in a loop');
});
