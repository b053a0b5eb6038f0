/**
 * False positives of the XSS and traversal detectors found by a benign-input hunt: titles that begin like
 * a script URL, generic type names, CSS `*-behavior`, code assigning on* variables; a site's own routes
 * (`/sam`, `/windows/download`, `/account/credentials`), labels before a colon ("File: …"), ellipses that
 * end a sentence. Each must pass through the Engine in a query, a form and JSON (routes as the request
 * path); the look-alike attacks beside them stay blocked.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { MoatRequest } from '../../src/engine/decision.js';
import { asParameter, assertDecided, blockingEngine } from '../helpers/attack-engine.js';

const engine = blockingEngine();
const base = { ip: '192.0.2.1', headers: {} };
const asValue = (value: string) => asParameter(value, 'q');
const blocked = (category: string, values: readonly string[]) => assertDecided(engine, `attack-${category}`, values, asValue);
const passed = (values: readonly string[]) => assertDecided(engine, 'passed', values, asValue);

function targets(expected: string, list: readonly string[]): void {
  for (const t of list) assert.equal(engine.evaluate({ ...base, method: 'GET', path: t.split('?')[0]!, url: t }).category, expected, t);
}

test('a title before a colon is no script URL; code after the scheme still is', () => {
  passed(['JavaScript: The Good Parts', 'JavaScript: The Definitive Guide', 'JavaScript: Understanding the Weird Parts', 'Mocha: run a single test', 'mocha: timeout of 2000ms exceeded', 'Mocha: testing async code']);
  blocked('xss', ['javascript:alert(1)', 'javascript: alert(1)', 'JavaScript: void alert(1)', 'javascript:x in alert(1)', 'javascript:foo%0aalert(1)', 'mocha:alert(1)', '<a href="javascript: alert(document.domain)">x</a>']);
});

test('a type argument glued to its type opens nothing; an element with attributes or a script does', () => {
  passed(['List<Object> items = new ArrayList<>();', 'Optional<Template> findTemplate(String name)', 'Set<Handler> handlers', 'Vec<Layer> layers in Rust', 'public void on(Event<Frame> e)', 'Promise<Object> in TypeScript', 'Array<Object> vs object[]']);
  blocked('xss', ['List<Object data=//evil.example/x.swf>', 'a<script>alert(1)</script>', 'List<Object><img src=x onerror=alert(1)>', 'x<iframe src=javascript:alert(1)>', '<object>']);
});

test('CSS scroll-behavior is no IE behavior:', () => {
  passed(['<div style="scroll-behavior: smooth">...</div>', '<html style="scroll-behavior: smooth">', 'Why doesn\'t overscroll-behavior: contain work in <body style="overscroll-behavior: none">?']);
  blocked('xss', ['<p style="behavior: url(x.htc)">', '<p style="color:red;behavior:url(#default#time2)">', '<div style="width: expression(alert(1))">']);
});

test('code assigning an on* variable after a comparison adds no handler', () => {
  passed(['for (let i = 0; i<n; i++) { onlineCount = 0 }', 'while (retries<maxRetries) { onRetry = true; retries++; }', 'if (count<max) onScreen = true;']);
  blocked('xss', ['x<n; onfocus=alert(1) autofocus>', '<x onxyzabc=alert(1)>', '" onfocus=alert(1) autofocus x="', "' onmouseover=alert(1) '", 'x onfocus=alert(1) autofocus']);
});

test("a site's own routes are no system files; encoded segments and values naming one are", () => {
  targets('passed', ['/sam', '/Sam', '/sam.jones', '/sam/photos', '/repair/iphone-12-screen', '/windows/download', '/windows/blinds-and-shutters', '/credentials',
    '/account/credentials', '/api/v1/users/42/credentials', '/help/known_hosts', '/docs/ssh/id_rsa', '/docs/web.config', '/docs/php.ini', '/tutorials/config.php',
    '/docs/settings.py', '/docs/database.yml', '/docs/etc/hosts', '/docs/linux/etc/passwd', '/sam/../photos']);
  targets('attack-traversal', ['/api/files/..%2F..%2Fsecret.txt', '/files/%2Fetc%2Fpasswd', '/static/..%2f..%2f..%2fetc/passwd', '/api/files/..%5C..%5Cweb.config', '/s?f=/etc/passwd', '/s?f=..%2Fcredentials']);
  blocked('traversal', ['/etc/passwd', '/proc/self/environ', '/var/www/html/wp-config.php', '/srv/app/config/database.yml', 'C:\\Windows\\win.ini', '/windows/win.ini',
    '\\windows\\system32\\config\\sam', '/windows/system32/config/sam', '/WEB-INF/web.xml', '/inetpub/wwwroot/web.config', '../credentials', '..\\..\\windows\\repair\\sam', '/srv/app/.env', '/home/u/.ssh/id_rsa']);
});

test('a label before a colon is no inclusion wrapper, and an ellipsis ending a sentence climbs nothing', () => {
  passed(['File: report template', 'File: how to rename', 'File: invoice_2024.pdf (attached)', 'File: see attachment', 'Jar: mason jars 16 oz', 'zlib: decompress gzip python',
    'So ...? Any update?', "Really ...? That's disappointing.", 'and then ..? nothing happened']);
  blocked('traversal', ['file:///etc/passwd', 'file:/etc/passwd', 'jar:file:///tmp/x.jar!/', 'zlib:/etc/passwd', 'php://filter/convert.base64-encode/resource=index.php',
    '....', '..?', '....//....//etc/passwd', 'So ../../../etc/passwd?', '..;/..;/WEB-INF/web.xml']);
});
