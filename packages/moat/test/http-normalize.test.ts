import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentDecode } from '../src/http/percent-decode.js';
import { normalizePath, pathForms } from '../src/http/request-path.js';
import { isOddWebUrl, normalizeHost, splitTarget, webUrlReadings } from '../src/http/request-target.js';
import { bodyParams, decodeParams, joinParams, jsonToParams } from '../src/http/request-params.js';
import { bodyKind, bodyToRead, declaredBodyLength } from '../src/http/body-kind.js';
import { inflateBody } from '../src/http/inflate-body.js';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { RequestNormalizer, type MoatHttpRequest } from '../src/http/normalized-request.js';
import { ClientIpResolver } from '../src/http/client-address.js';
import { TrustedProxies } from '../src/http/trusted-proxies.js';
import { RecentValues } from '../src/text/recent-values.js';

test('path evasions all normalise to /wp-admin', () => {
  const evasions = [
    '/wp-admin', '/%77p-admin', '/%77%70%2d%61%64%6d%69%6e', '//wp-admin', '///wp-admin//',
    '/./wp-admin', '/./x/../wp-admin', '/x/y/../../wp-admin', '/x/..%2fwp-admin', '/x/%2e%2e/wp-admin',
    '/x/%2E%2E/wp-admin', '/%2e/wp-admin', '\\wp-admin', '/x\\..\\wp-admin', '/../../../wp-admin', 'wp-admin',
  ];
  for (const raw of evasions) {
    const path = normalizePath(raw);
    assert.ok(path === '/wp-admin' || path === '/wp-admin/', `${raw} -> ${path}`);
  }
});

test('upper-case variants keep their case for the case-insensitive engine, but are decoded alike', () => {
  assert.equal(normalizePath('/%57P-ADMIN'), '/WP-ADMIN');
  assert.equal(normalizePath('//WP-Admin/./'), '/WP-Admin/');
  assert.equal(normalizePath('/%2e%2E/Wp-AdMiN'), '/Wp-AdMiN');
});

test('plain paths come back as the same string, trailing slashes and dots kept where meaningful', () => {
  const plain = '/api/v1/users/42';
  assert.equal(normalizePath(plain), plain);
  assert.equal(normalizePath('/a/b/'), '/a/b/');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/a/.'), '/a/');
  assert.equal(normalizePath('/..'), '/');
  assert.equal(normalizePath(''), '/');
  assert.equal(normalizePath('*'), '*');
  assert.equal(normalizePath('/file.txt'), '/file.txt');
  assert.equal(normalizePath('/a/.hidden'), '/a/.hidden');
  assert.equal(normalizePath('/a/...'), '/a/...');
});

test('invalid UTF-8 and malformed escapes never throw and keep what can be matched', () => {
  assert.throws(() => decodeURIComponent('/%ff'));
  assert.equal(normalizePath('/%ff%fe/wp-admin'), '/\uFFFD\uFFFD/wp-admin');
  assert.equal(normalizePath('/%zz/%/%4'), '/%zz/%/%4');
  assert.equal(normalizePath('/%c3%a9t%C3%A9'), '/été');
  // Raw bytes arrive from Node's parser as latin1 characters; they are read as UTF-8.
  assert.equal(normalizePath('/\u00c3\u00a9'), '/é');
  assert.equal(normalizePath('/\u00ff\u00fe'), '/\uFFFD\uFFFD');
  // Over-long encoding of '/' (0xC0 0xAF) is invalid UTF-8, not a separator.
  assert.equal(normalizePath('/x/..%c0%afwp-admin'), '/x/..\uFFFD\uFFFDwp-admin');
  // Characters beyond latin1 (not from an HTTP parser) are encoded, not truncated.
  assert.equal(percentDecode('/😀%20x'), '/😀 x');
});

test('percent-decoding long input', () => {
  const long = '%41'.repeat(100_000);
  assert.equal(percentDecode(long), 'A'.repeat(100_000));
  assert.equal(percentDecode('a+b%2Bc', true), 'a b+c');
  assert.equal(percentDecode('a+b', false), 'a+b');
  const same = 'nothing-to-decode';
  assert.equal(percentDecode(same), same);
});

test('host: lower case, no port, no trailing dot', () => {
  assert.equal(normalizeHost('Example.COM:8080'), 'example.com');
  assert.equal(normalizeHost('example.com.'), 'example.com');
  assert.equal(normalizeHost('EXAMPLE.com.:443'), 'example.com');
  assert.equal(normalizeHost('[2001:DB8::1]:443'), '[2001:db8::1]');
  assert.equal(normalizeHost('[::1]'), '[::1]');
  assert.equal(normalizeHost('Admin.example.com:1:2'), 'admin.example.com', 'up to the first colon, as frameworks read it');
  assert.equal(normalizeHost(undefined), undefined);
  assert.equal(normalizeHost(''), undefined);
  const lower = 'api.example.com';
  assert.equal(normalizeHost(lower), lower);
});

test('request target: origin form, absolute form, query and fragment', () => {
  assert.deepEqual(splitTarget('/a/b?x=1&y=2'), { path: '/a/b', query: 'x=1&y=2', authority: null });
  // After a `#` (never sent by browsers), every reader's query: Fastify's find-my-way reads from the
  // first `?` or `#` to the end (`f?no`, and `q=1#frag`), Hono before 2026 from the first `?` (`no`).
  assert.deepEqual(splitTarget('/a#frag?no'), { path: '/a', query: 'frag?no&no', authority: null });
  assert.deepEqual(splitTarget('/a?q=1#frag'), { path: '/a', query: 'q=1&q=1#frag', authority: null });
  assert.deepEqual(splitTarget('/a#q=1'), { path: '/a', query: 'q=1', authority: null });
  assert.deepEqual(splitTarget('http://h/a#x?q=1'), { path: '/a', query: 'x?q=1&q=1', authority: 'h' });
  assert.deepEqual(splitTarget('http://Evil.example:81/wp-admin?a=1'), { path: '/wp-admin', query: 'a=1', authority: 'Evil.example:81' });
  assert.deepEqual(splitTarget('https://user:pw@host.example'), { path: '/', query: '', authority: 'host.example' });
  assert.deepEqual(splitTarget('*'), { path: '*', query: '', authority: null });
  assert.deepEqual(splitTarget('/odd:path://x'), { path: '/odd:path://x', query: '', authority: null });
});

test('parameters: decoded once, + as space, stable order, joined with the body', () => {
  assert.equal(decodeParams('q=%3Cscript%3Ealert(1)%3C%2Fscript%3E&b=two+words'), 'q=<script>alert(1)</script>&b=two words');
  assert.equal(decodeParams('a=%ZZ&b=%'), 'a=%ZZ&b=%');
  assert.equal(decodeParams('a=%ff'), 'a=\uFFFD');
  assert.equal(joinParams('a=1', 'b=2'), 'a=1&b=2');
  assert.equal(joinParams(undefined, 'b=2'), 'b=2');
  assert.equal(joinParams('a=1', undefined), 'a=1');
  assert.equal(joinParams(undefined, ''), undefined);
});

test('JSON parameters: flattened so escapes cannot hide a value; invalid JSON stays raw', () => {
  assert.equal(jsonToParams('{"user":{"name":"\\u003cscript\\u003e","tags":["a","b"]},"n":1,"z":null}'),
    'user.name=<script>&user.tags.0=a&user.tags.1=b&n=1&z=null');
  assert.equal(jsonToParams('{not json'), '{not json');
  assert.equal(jsonToParams('"just a string"'), '=just a string');
  const deep = '['.repeat(10_000) + ']'.repeat(10_000);
  assert.doesNotThrow(() => jsonToParams(deep));
  const many = JSON.stringify(Array.from({ length: 50_000 }, (_, i) => i));
  const flattened = jsonToParams(many);
  assert.equal(flattened.split('&').length, 10_001, '10,000 entries, then the document as written');
  assert.ok(flattened.endsWith(`&${many}`));
  // Past the entry bound the rest is still read: padding cannot hide a value.
  const padded = `[${'0,'.repeat(10_000)}"<script>"]`;
  assert.ok(jsonToParams(padded).includes('<script>'));
  assert.equal(jsonToParams(JSON.stringify(Array.from({ length: 9_999 }, () => 0))).split('&').length, 9_999, 'under the bound, entries only');
});

test('body kinds: forms always, JSON only when asked, by media type alone', () => {
  assert.equal(bodyKind({ 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, false), 'form');
  assert.equal(bodyKind({ 'content-type': 'Application/X-WWW-Form-Urlencoded' }, false), 'form');
  assert.equal(bodyKind({ 'content-type': 'application/json' }, false), null);
  assert.equal(bodyKind({ 'content-type': 'application/json' }, true), 'json');
  assert.equal(bodyKind({ 'content-type': 'application/vnd.api+json' }, true), 'json');
  assert.equal(bodyKind({ 'content-type': 'multipart/form-data; boundary=x' }, true), null);
  assert.equal(bodyKind({ 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, false), 'form');
  assert.equal(bodyKind({}, true), null);
  assert.equal(declaredBodyLength({ 'content-length': '12' }), 12);
  assert.equal(declaredBodyLength({ 'transfer-encoding': 'chunked' }), -1);
  assert.equal(declaredBodyLength({}), 0);
  assert.equal(declaredBodyLength({ 'content-length': 'junk' }), 0);
});

test('path forms: only unusual paths get other readings; decoded-as-written and cut-at-semicolon', () => {
  assert.equal(pathForms('/api/v1/users/42', '/api/v1/users/42'), undefined);
  assert.equal(pathForms('/login/', '/login/'), undefined, 'a trailing slash is for the engine, not a form');
  assert.equal(pathForms('*', '*'), undefined);
  const forms = (raw: string) => pathForms(raw, normalizePath(raw));
  assert.deepEqual(forms('/wp-admin/..'), ['/wp-admin/..']);
  assert.deepEqual(forms('/wp-admin/%2e%2e'), ['/wp-admin/..']);
  assert.deepEqual(forms('/wp-admin%2f..'), ['/wp-admin/..']);
  assert.deepEqual(forms('/wp-admin\\..'), ['/wp-admin\\..']);
  assert.deepEqual(forms('/admin/secret/..'), ['/admin/secret/..']);
  // Decoded once only: no router serves %2577 as "w".
  assert.deepEqual(forms('/%2577p-admin'), undefined);
  assert.equal(normalizePath('/%2577p-admin'), '/%77p-admin');
  assert.deepEqual(forms('/login;jsessionid=1'), ['/login']);
  assert.deepEqual(forms('/wp-admin;x/..'), ['/wp-admin;x/..', '/wp-admin']);
  assert.equal(forms('/%77p-admin'), undefined, 'decoding alone gives the normal form: nothing new');
});

test('body plans: compressed forms read, multipart and unknown codings named, JSON charsets', () => {
  const form = 'application/x-www-form-urlencoded';
  assert.deepEqual(bodyToRead({ 'content-type': form }, false), { kind: 'form', coding: 'identity', charset: 'utf-8' });
  for (const coding of ['gzip', 'deflate', 'br', 'GZIP', 'identity']) {
    const plan = bodyToRead({ 'content-type': form, 'content-encoding': coding }, false);
    assert.equal(typeof plan === 'object' && plan !== null && plan.coding, coding.toLowerCase());
  }
  // Judged as sent (and counted as `encoding` by the firewall): Moat cannot inflate these.
  assert.deepEqual(bodyToRead({ 'content-type': form, 'content-encoding': 'gzip, gzip' }, false), { kind: 'form', coding: 'other', charset: 'utf-8' });
  assert.deepEqual(bodyToRead({ 'content-type': form, 'content-encoding': 'compress' }, false), { kind: 'form', coding: 'other', charset: 'utf-8' });
  // A list of media types (Fetch's formData() takes the last valid one) is read when any is a form; quoted commas do not split.
  assert.equal(bodyKind({ 'content-type': `text/plain, ${form}` }, false), 'form');
  assert.equal(bodyKind({ 'content-type': `text/plain; x="a, ${form}"` }, false), null);
  assert.equal(bodyKind({ 'content-type': 'text/plain, application/json' }, true), 'json');
  // JSON first, with parameters: the form after it still wins (JSON inspection on or off), and a JSON
  // charset Moat cannot decode does not keep the form from being read.
  assert.equal(bodyKind({ 'content-type': `application/json;a=b, ${form}` }, true), 'form');
  assert.equal(bodyKind({ 'content-type': `application/json;a=b, ${form}` }, false), 'form');
  assert.equal(bodyKind({ 'content-type': 'application/json;a=b, text/plain' }, true), 'json');
  assert.deepEqual(bodyToRead({ 'content-type': `application/json; charset=utf-32, ${form}` }, true), { kind: 'form', coding: 'identity', charset: 'utf-8' });
  // multipart: its fields are read as a form's, under every boundary declared; without one there is nothing to read.
  assert.deepEqual(bodyToRead({ 'content-type': 'multipart/form-data; boundary=x' }, false), { kind: 'multipart', coding: 'identity', charset: 'utf-8', boundaries: ['x'] });
  assert.deepEqual(bodyToRead({ 'content-type': 'multipart/mixed; Boundary="a b"; boundary=c', 'content-encoding': 'gzip' }, false),
    { kind: 'multipart', coding: 'gzip', charset: 'utf-8', boundaries: ['a b', 'c'] });
  assert.equal(bodyToRead({ 'content-type': 'multipart/form-data' }, false), 'multipart');
  assert.equal(bodyToRead({ 'content-type': 'multipart/form-data; boundary=' }, false), 'multipart');
  assert.equal(bodyToRead({ 'content-type': 'application/json' }, false), null);
  assert.deepEqual(bodyToRead({ 'content-type': 'text/plain' }, true), { kind: 'json', coding: 'identity', charset: 'utf-8', lenient: true, text: true },
    'judged as JSON if it reads as JSON, else as the string a text parser makes');
  assert.deepEqual(bodyToRead({ 'content-type': 'application/xml, text/plain;charset=utf-8' }, true), { kind: 'json', coding: 'identity', charset: 'utf-8', lenient: true, text: true });
  assert.deepEqual(bodyToRead({}, true), { kind: 'json', coding: 'identity', charset: 'utf-8', lenient: true }, 'undeclared: JSON only');
  assert.equal(bodyToRead({ 'content-type': 'text/plain' }, false), null);
  // Any other type too: a Web request.json() parses the body whatever the header says.
  for (const type of ['text/html', 'application/octet-stream', 'image/png', 'x/y', '']) {
    assert.deepEqual(bodyToRead({ 'content-type': type }, true), { kind: 'json', coding: 'identity', charset: 'utf-8', lenient: true }, type);
    assert.equal(bodyToRead({ 'content-type': type }, false), null, type);
  }
  const json = (ct: string) => bodyToRead({ 'content-type': ct }, true);
  assert.deepEqual(json('application/json; charset=utf-16le'), { kind: 'json', coding: 'identity', charset: 'utf-16le' });
  assert.deepEqual(json('application/json; charset="UTF-16BE"'), { kind: 'json', coding: 'identity', charset: 'utf-16be' });
  assert.deepEqual(json('application/json;charset=utf-16'), { kind: 'json', coding: 'identity', charset: 'utf-16' });
  assert.deepEqual(json('application/json; charset=iso-8859-1'), { kind: 'json', coding: 'identity', charset: 'utf-8' });
  assert.equal(json('application/json; charset=utf-32'), 'charset');
});

test('JSON body text: BOM dropped, UTF-16 in either byte order', () => {
  const doc = '{"q":"\\u003cscript"}';
  const expected = 'q=<script';
  assert.equal(bodyParams({ bytes: Buffer.from('\uFEFF' + doc, 'utf8'), complete: true }, 'json'), expected);
  const le = Buffer.from('\uFEFF' + doc, 'utf16le');
  assert.equal(bodyParams({ bytes: le, complete: true }, 'json', 'utf-16le'), expected);
  assert.equal(bodyParams({ bytes: le, complete: true }, 'json', 'utf-16'), expected);
  const be = Buffer.from(doc, 'utf16le').swap16();
  assert.equal(bodyParams({ bytes: be, complete: true }, 'json', 'utf-16be'), expected);
  assert.equal(bodyParams({ bytes: be, complete: true }, 'json', 'utf-16'), expected, 'byte order guessed without a BOM');
});

test('inflating a body: gzip, deflate, br; a bomb stops at the limit; a cut body inflates as far as it goes', async () => {
  const text = 'a=1&b=%3Cscript%3E';
  for (const [coding, pack] of [['gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
    const out = await inflateBody({ bytes: pack(Buffer.from(text)), complete: true }, coding, 1024);
    assert.deepEqual([out.bytes.toString(), out.complete], [text, true], coding);
  }
  const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x61));
  assert.ok(bomb.length < 64 * 1024, "the compressed bomb fits in one read");
  const capped = await inflateBody({ bytes: bomb, complete: true }, 'gzip', 64 * 1024);
  assert.equal(capped.bytes.length, 64 * 1024);
  assert.equal(capped.complete, false);
  const long = Buffer.from('x=' + 'y'.repeat(20_000) + '&evil=%3Cscript');
  const packed = gzipSync(long, { level: 0 });
  const cut = await inflateBody({ bytes: packed.subarray(0, packed.length >> 1), complete: false }, 'gzip', 1 << 20);
  assert.equal(cut.complete, false);
  assert.ok(cut.bytes.length > 1000 && long.subarray(0, cut.bytes.length).equals(cut.bytes));
  const corrupt = await inflateBody({ bytes: Buffer.from('not gzip at all'), complete: true }, 'gzip', 1024);
  assert.equal(corrupt.bytes.length, 0);
});

test('body parameters: form bytes decoded as UTF-8, truncated JSON inspected raw', () => {
  const form = Buffer.from('name=J%C3%BCrgen&note=caf\u00e9+ok', 'utf8');
  assert.equal(bodyParams({ bytes: form, complete: true }, 'form'), 'name=Jürgen&note=café ok');
  assert.equal(bodyParams({ bytes: Buffer.from('{"a":"<x'), complete: false }, 'json'), '{"a":"<x');
});

test('property: any path normalises without throwing, to an idempotent form with no dot segments or empty segments', async () => {
  const fc = (await import('fast-check')).default;
  const piece = fc.constantFrom('/', '//', '.', '..', '%2e', '%2E', '%2f', '%5c', '\\', 'a', 'B', '%', '%zz', '%ff', '\u00e9', '~');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), fc.string(), (pieces, noise) => {
      const raw = pieces.join('') + noise;
      const path = normalizePath(raw);
      if (path === '*') return;
      assert.equal(path[0], '/');
      assert.ok(!path.includes('//'), path);
      const segments = path.split('/');
      assert.ok(!segments.includes('.') && !segments.includes('..'), path);
      // Normal form is stable once no escapes remain to be decoded.
      if (!path.includes('%')) assert.equal(normalizePath(path), path);
    }),
    { numRuns: 2000 },
  );
});

test('request normaliser: remembered targets and hosts give the same request as working them out afresh', () => {
  const fresh = () => new RequestNormalizer(new ClientIpResolver(TrustedProxies.from([])));
  const remembering = fresh();
  const req = (url: string, host?: string) => ({
    method: 'GET', url, headers: host === undefined ? {} : { host }, socket: { remoteAddress: '203.0.113.9' },
  }) as unknown as IncomingMessage;
  const view = (r: MoatHttpRequest) => ({
    host: r.host, hostForms: r.hostForms, path: r.path, pathForms: r.pathForms, params: r.params, ip: r.ip, url: r.url,
  });
  // Same length and sampled characters (slot neighbours), absolute form, hosts with ports, case and no host.
  const urls = ['/a/%77p-admin?q=%3Cscript', '/b/%77p-admin?q=%3Cscript', '/x?a=1+2', 'http://Admin.Example.com:80/y?z=1', '//wp-admin', '/p', '/p?', '/w/..', '/w;x/..'];
  const hosts = [undefined, 'WWW.Example.com:8080', 'www.example.com', ':80', '[::1]:443', 'example.com.'];
  for (let round = 0; round < 3; round++) {
    for (const url of urls) {
      for (const host of hosts) {
        for (const withParams of [round % 2 === 0, round % 2 === 1]) {
          assert.deepEqual(view(remembering.normalize(req(url, host), withParams)), view(fresh().normalize(req(url, host), withParams)), `${url} ${host} ${withParams}`);
        }
      }
    }
  }
  const r = remembering.normalize(req('http://Admin.Example.com:80/y?z=%41', 'other.test'), true);
  assert.equal(r.host, 'admin.example.com');
  assert.deepEqual(r.hostForms, ['other.test'], 'the Host header is judged too');
  assert.equal(remembering.normalize(req('http://other.test/y', 'Other.Test:81'), true).hostForms, undefined, 'same host: no second form');
  assert.equal(remembering.normalize(req('/y', 'other.test'), true).hostForms, undefined);
  assert.equal(remembering.normalize(req('/plain/path', 'h'), true).pathForms, undefined);
  assert.deepEqual(remembering.normalize(req('/wp-admin/%2e%2e?x', 'h'), true).pathForms, ['/wp-admin/..']);
  assert.equal(r.path, '/y');
  assert.equal(r.params, 'z=A');
  assert.equal(remembering.normalize(req('/y?z=%41', 'other.test'), false).params, undefined);
  // X-Forwarded-Host: its hosts are forms of the host, the same array again for the same Host and value
  // (the engine's memo of quiet requests compares forms by identity), a fresh reading for another Host.
  const forwarded = (host: string, xfh: string | string[]) => remembering.normalize({ ...req('/f', host), headers: { host, 'x-forwarded-host': xfh } } as unknown as IncomingMessage, true);
  const once = forwarded('app:3000', 'WWW.example.com, admin.example.com.:443');
  assert.deepEqual(once.hostForms, ['www.example.com', 'admin.example.com']);
  assert.equal(forwarded('app:3000', 'WWW.example.com, admin.example.com.:443').hostForms, once.hostForms, 'the same array again');
  assert.deepEqual(forwarded('www.example.com', 'WWW.example.com, admin.example.com.:443').hostForms, ['admin.example.com'], 'not the host itself');
  assert.equal(forwarded('www.example.com', 'www.example.com').hostForms, undefined, 'the host itself only');
  assert.deepEqual(forwarded('a.test', ['b.test', 'c.test, a.test']).hostForms, ['b.test', 'c.test']);
  assert.deepEqual(remembering.normalize({ ...req('http://x.test/f', 'y.test'), headers: { host: 'y.test', 'x-forwarded-host': 'z.test' } } as unknown as IncomingMessage, true).hostForms,
    ['y.test', 'z.test'], 'with an absolute target: the Host header and the forwarded host');
  // Targets longer than the memo keeps are still normalised.
  const long = `/${'a'.repeat(3000)}/../wp-admin?x=%41`;
  assert.equal(remembering.normalize(req(long, 'h'), true).path, '/wp-admin');
  assert.equal(remembering.normalize(req(long, 'h'), true).params, 'x=A');
});

test('recent values: a slot holds the last value put in it, confirmed by content', () => {
  const memo = new RecentValues<number>(4, 8);
  memo.set('abc', 1);
  assert.equal(memo.get('abc'), 1);
  assert.equal(memo.get('abd'), undefined);
  memo.set('a-long-key', 2); // longer than 8: never kept
  assert.equal(memo.get('a-long-key'), undefined);
  // Many keys through four slots: whatever is found is right.
  for (let i = 0; i < 200; i++) memo.set(`k${i}`, i);
  for (let i = 0; i < 200; i++) {
    const found = memo.get(`k${i}`);
    assert.ok(found === undefined || found === i);
  }
  memo.set('', 7);
  assert.equal(memo.get(''), 7);
  // Same length and same sampled characters, so the same hash and slot: told apart by the string itself.
  const wide = new RecentValues<number>(4, 64);
  wide.set('a0cdefghijklmnop', 1);
  assert.equal(wide.get('a1cdefghijklmnop'), undefined);
  wide.set('a1cdefghijklmnop', 2);
  assert.equal(wide.get('a0cdefghijklmnop'), undefined);
  assert.equal(wide.get('a1cdefghijklmnop'), 2);
});

test('a Web url built from a Host that is not one: the app\'s other readings, found with one scan', () => {
  assert.equal(isOddWebUrl('http://example.test:8080/login?x=1'), false);
  assert.equal(isOddWebUrl('http://[::1]:80/x'), false);
  for (const url of ['http://a\\login?/', 'http://a?/login', 'http://a#/login', 'http://a@b/x', '/xx/login', 'http:///x/login']) assert.equal(isOddWebUrl(url), true, url);
  // An empty authority (`Host: /x`): WHATWG and Hono read the path after the host they take from it.
  assert.deepEqual(webUrlReadings('http:///x/login'), { paths: ['/login', '/login'], hosts: ['x'] });
  assert.deepEqual(webUrlReadings('http://a\\login?/'), { paths: ['/login', '/'], hosts: ['a'] }); // WHATWG; Hono
  assert.deepEqual(webUrlReadings('http://a?/login'), { paths: ['/', '/login'], hosts: ['a'] });
  assert.deepEqual(webUrlReadings('/xx/login'), { paths: ['/login'], hosts: [] }); // Bun's relative url: Hono's skip
  assert.deepEqual(webUrlReadings('http://admin.example.com\\y?/x').hosts, ['admin.example.com']);
  // With a `#` as well: Hono before 2026 routed on the text up to `?`, so `/x#/../admin` is a reading too.
  assert.deepEqual(webUrlReadings('http://a?/x#/../admin?q'), { paths: ['/', '/x', '/x#/../admin'], hosts: ['a'] });
});
