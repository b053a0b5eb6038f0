// multipart bodies as the form Moat judges (http/multipart-form.ts): every text field a real parser
// hands an app is among Moat's fields, for bodies generated at random, bent line ends and delimiters
// inside values included; and the readings real parsers do not make but naive ones do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import busboy from 'busboy';
import fc from 'fast-check';
import { multipartAsForm, multipartBoundaries } from '../src/http/multipart-form.js';

/** Moat's fields as [name, value] pairs, decoded as the form path decodes them (bytes read as UTF-8). */
function moatFields(body: Buffer, boundaries: string[]): [string, string][] | null {
  const form = multipartAsForm(body, boundaries);
  if (form === null) return null;
  const decode = (text: string) => Buffer.from(text.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
  return form.toString('latin1').split('&').filter((pair) => pair !== '').map((pair) => {
    const eq = pair.indexOf('=');
    return [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
  });
}

async function busboyFields(body: Buffer, contentType: string): Promise<[string, string][]> {
  const fields: [string, string][] = [];
  await new Promise<void>((resolve) => {
    const parser = busboy({ headers: { 'content-type': contentType } });
    parser.on('field', (name, value) => fields.push([name, value]));
    parser.on('file', (_name, stream) => stream.on('error', () => {}).resume());
    parser.on('close', resolve);
    parser.on('error', () => resolve());
    parser.end(body);
  });
  return fields;
}

async function fetchFields(body: Buffer, contentType: string): Promise<[string, string][]> {
  try {
    const form = await new Request('http://localhost/', { method: 'POST', body, headers: { 'content-type': contentType } }).formData();
    return [...form].flatMap(([name, value]) => (typeof value === 'string' ? [[name, value] as [string, string]] : []));
  } catch {
    return []; // Fetch refused the body: the app reads nothing from it
  }
}

const partKinds = ['field', 'file', 'emptyFilename', 'octetStream', 'noType'] as const;
const valueBytes = fc.array(fc.oneof(
  fc.constantFrom('<script>', "' OR 1=1--", '\r\n', '\n', '--', '\r\n--', 'plain text ', '%26', '&', '+', '=', 'é', '"'),
  fc.string({ maxLength: 8 }),
), { maxLength: 8 }).map((pieces) => pieces.join(''));

test('every text field busboy or Fetch reads from a multipart body is one of Moat\'s fields (property, 400 bodies)', async () => {
  await fc.assert(fc.asyncProperty(
    fc.stringMatching(/^[A-Za-z0-9'()+_,\-./:=?]{1,40}$/).filter((b) => !b.endsWith(' ')),
    fc.array(fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/),
      kind: fc.constantFrom(...partKinds),
      value: valueBytes,
      eol: fc.constantFrom('\r\n', '\n'),
    }), { minLength: 1, maxLength: 5 }),
    fc.boolean(),
    async (boundary, parts, closed) => {
      let text = '';
      for (const part of parts) {
        const filename = part.kind === 'file' || part.kind === 'noType' ? '; filename="a.txt"' : part.kind === 'emptyFilename' ? '; filename=""' : '';
        const type = part.kind === 'file' || part.kind === 'emptyFilename' ? 'Content-Type: text/plain\r\n' : part.kind === 'octetStream' ? 'Content-Type: application/octet-stream\r\n' : '';
        text += `--${boundary}${part.eol}Content-Disposition: form-data; name="${part.name}"${filename}\r\n${type}\r\n${part.value}${part.eol}`;
      }
      if (closed) text += `--${boundary}--\r\n`;
      const body = Buffer.from(text, 'utf8');
      const contentType = `multipart/form-data; boundary="${boundary}"`;
      const boundaries = multipartBoundaries(contentType);
      assert.deepEqual(boundaries, [boundary]);
      const ours = moatFields(body, boundaries) ?? [];
      const has = ([name, value]: [string, string]) => ours.some(([n, v]) => v === value && (n === name || n === ''));
      for (const field of [...await busboyFields(body, contentType), ...await fetchFields(body, contentType)]) {
        assert.ok(has(field), `${JSON.stringify(field)} missing from ${JSON.stringify(ours)}`);
      }
    },
  ), { numRuns: 400 });
});

test('readings naive parsers make: a delimiter in mid-line inside a file, a filename* only, names with escapes', () => {
  const file = (content: string, disposition = 'form-data; name="doc"; filename="a.txt"') =>
    Buffer.from(`--B\r\nContent-Disposition: ${disposition}\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--B--\r\n`, 'latin1');
  // A well-formed file: its name is judged, its content is not.
  assert.deepEqual(moatFields(file('<script>'), ['B']), [['doc.filename', 'a.txt']]);
  // `body.split('--B')` finds a part in mid-line: the content is judged.
  const midLine = file('notes--B\r\nContent-Disposition: form-data; name="bio"\r\n\r\n<script>');
  assert.ok(moatFields(midLine, ['B'])!.some(([, value]) => value.includes('<script>')));
  // Line ends of a bare LF, which a lenient parser takes for a delimiter line: the field it finds is
  // judged under its own name, so an exclusion of the field around it does not cover it.
  const lfInside = Buffer.from('--B\r\nContent-Disposition: form-data; name="content"\r\n\r\nhello\n--B\nContent-Disposition: form-data; name="title"\n\n<svg onload=x>\r\n--B--');
  assert.deepEqual(moatFields(lfInside, ['B']), [
    ['content', 'hello\n--B\nContent-Disposition: form-data; name="title"\n\n<svg onload=x>'], ['content', 'hello'], ['title', '<svg onload=x>']]);
  // Only filename* (a parser that ignores it reads a field), and an escaped quote in the filename.
  assert.ok(moatFields(file('<script>', "form-data; name=\"doc\"; filename*=UTF-8''..%2F..%2Fx"), ['B'])!.some(([n, v]) => n === 'doc' && v === '<script>'));
  assert.ok(moatFields(file('<script>', "form-data; name=\"doc\"; filename*=UTF-8''..%2F..%2Fx"), ['B'])!.some(([n, v]) => n === 'doc.filename' && v === '../../x'));
  assert.ok(moatFields(file('<script>', 'form-data; name="doc"; filename="a\\".txt"'), ['B'])!.some(([, v]) => v === '<script>'));
  // A name read with escapes (busboy) and up to the first quote (undici): two names, judged under none.
  assert.deepEqual(moatFields(Buffer.from('--B\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\nx\r\n--B--'), ['B']), [['', 'x']]);
  // `%`, `&`, `+` survive the round trip; a name's `=` too.
  assert.deepEqual(moatFields(Buffer.from('--B\r\nContent-Disposition: form-data; name="a=b&c"\r\n\r\n1+1=2 & 100%\r\n--B--'), ['B']), [['a=b&c', '1+1=2 & 100%']]);
  // No part: nothing to judge.
  assert.equal(multipartAsForm(Buffer.from('--C\r\n\r\nx'), ['B']), null);
});

test('boundaries: every one declared, unquoted, distinct, at most four (the first two and the last two)', () => {
  assert.deepEqual(multipartBoundaries('multipart/form-data; boundary=a; charset=x; BOUNDARY = "b\\"c" ; boundary=a'), ['a', 'b"c']);
  assert.deepEqual(multipartBoundaries('multipart/form-data; boundary=1; boundary=2; boundary=3; boundary=4; boundary=5'), ['1', '2', '4', '5']);
  assert.deepEqual(multipartBoundaries('multipart/form-data'), []);
  assert.deepEqual(multipartBoundaries(`multipart/form-data; boundary=${'x'.repeat(201)}`), []);
});
