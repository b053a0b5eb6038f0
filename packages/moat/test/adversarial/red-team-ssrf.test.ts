/**
 * Red-team findings on SSRF: URLs that Node's WHATWG parser (`new URL(p)`, hence fetch, http.get, axios,
 * undici) resolves to loopback or the cloud metadata service, written in spellings the detector missed.
 * Each payload is asserted blocked as SSRF in the query string, a urlencoded form and a JSON body, and a
 * benign look-alike of each shape passes.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { asParameter, assertDecided, blockingEngine } from '../helpers/attack-engine.js';
import { stringReads } from '../helpers/string-reads.js';

const engine = blockingEngine();
const requests = (value: string) => asParameter(value, 'url');
const blocked = (values: readonly string[]) => assertDecided(engine, 'attack-ssrf', values, requests);
const passed = (values: readonly string[]) => assertDecided(engine, 'passed', values, requests);

test('R1–R4: special schemes fetch with zero, one or three slashes or backslashes after the colon', () => {
  // fetch('http:/169.254.169.254/…') reads the host after any run of slashes (or none) for http, https, ws, wss, ftp.
  const payloads = [
    'http:/169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http:169.254.169.254/latest/meta-data/',
    'http:\\169.254.169.254/latest/meta-data/',
    'http:///169.254.169.254/latest/meta-data/',
    'http:///127.0.0.1:6379/',
    'HTTPS:localhost:3000/admin',
    'ws:/127.0.0.1:9229/json',
    'http:/\\/\\[::1]:8080/',
  ];
  for (const p of payloads) assert.ok(['127.0.0.1', '169.254.169.254', 'localhost', '[::1]'].includes(new URL(p).hostname), p);
  blocked(payloads);
  // Prose with a scheme-like word and a colon, other schemes with one slash, and small numbers after `http:`.
  passed(['ratio http:1', 'note:127.1', 'see http: the protocol', 'http:1 and ftp:2', 'see https:/example.com', 'http:example.com/a', 'custom:/127.0.0.1/x', 'mailto:bob@example.com']);
});

test('R5, R6: a userinfo longer than 300 characters and IPv4 parts padded with zeros', () => {
  // The authority's last `@` and an address's leading zeros have no length limit in WHATWG.
  const payloads = [
    `http://${'a'.repeat(300)}@169.254.169.254/latest/meta-data/`,
    `http://${'a'.repeat(3000)}@127.0.0.1/`,
    `http://0x${'0'.repeat(70)}a9.0xfe.0xa9.0xfe/latest/meta-data/`,
    `http://${'0'.repeat(70)}177.0.0.1/`,
  ];
  for (const p of payloads) assert.ok(['127.0.0.1', '169.254.169.254'].includes(new URL(p).hostname));
  blocked(payloads);
  passed([`http://${'a'.repeat(400)}@example.com/`, `http://0x${'0'.repeat(70)}8.8.8.8/`, `https://example.com/${'0'.repeat(80)}127.0.0.1`]);
});

test('R7–R9: TAB, LF and CR inside the host are deleted by the parser', () => {
  // new URL('http://loc\talhost/') is localhost: the characters are removed before parsing.
  const payloads = ['http://1\r69.254.169.254/latest/meta-data/', 'http://loc\talhost:8080/admin', 'http://metadata.google.in\tternal/computeMetadata/v1/', 'http://local\nhost/'];
  for (const p of payloads) assert.ok(['localhost', '169.254.169.254', 'metadata.google.internal'].includes(new URL(p).hostname));
  blocked(payloads);
  passed(['see http://example.com\nand localhost docs', 'http://exam\tple.com/', 'http://example.com\n127.0.0.1 is loopback']);
});

test('R10–R14: hosts that IDNA maps to loopback or metadata addresses', () => {
  // Math digits and letters, superscripts and ignored code points (soft hyphen, zero-width space, variation selectors).
  const payloads = [
    'http://𝟏𝟔𝟗.𝟐𝟓𝟒.𝟏𝟔𝟗.𝟐𝟓𝟒/latest/meta-data/',
    'http://¹²⁷.⁰.⁰.¹/',
    'http://⁰:8080/',
    'http://169.254.169.25\u00ad4/latest/meta-data/',
    'http://localhost\u200b/',
    'http://local\u00adhost/',
    'http://127.0.0.1\u180b/',
    'http://localhost\ufe0f/',
    'http://𝐥𝐨𝐜𝐚𝐥𝐡𝐨𝐬𝐭/',
  ];
  for (const p of payloads) assert.ok(['127.0.0.1', '169.254.169.254', 'localhost', '0.0.0.0'].includes(new URL(p).hostname));
  blocked(payloads);
  passed(['http://bücher.de/', 'https://münchen.example/karte', 'café http://exämple.com/ ¹²³', 'http://𝐞𝐱𝐚𝐦𝐩𝐥𝐞.com/']);
});

test('R17, R19: a bare IPv6 loopback and internal names of containers and Kubernetes', () => {
  // net.connect(port, '::1'); fetch to the Docker host or a cluster service.
  blocked(['::1', '[::1]', 'http://host.docker.internal/', 'http://kubernetes.default.svc.cluster.local/api/v1/secrets', 'http://redis.cache.svc.cluster.local:6379/', 'http://host.containers.internal:8080/']);
  passed(['12:30:00', 'a::b', 'std::vector', 'https://docs.example.com/internal/', 'http://my.internal.example/', 'http://cluster.local.example.com/']);
});

test('a value of thousands of URLs is read a bounded number of times per character', () => {
  // `http://@` repeated used to slice and split a 300-character region at each URL.
  const SIZE = 8192;
  const shapes = ['http://@', 'http:', 'http:/', 'http:a@', 'http:http:@0', 'http://a@'];
  let distinct = '';
  for (let i = 0; distinct.length < SIZE; i++) distinct += `http://x${i}@y${i}/ http:x${i}@ `;
  const values = [...shapes.map((u) => u.repeat(Math.ceil(SIZE / u.length)).slice(0, SIZE)), distinct.slice(0, SIZE), `http:${'http:'.repeat(SIZE / 5)}@${'0'.repeat(SIZE / 2)}`];
  for (const v of values) {
    for (const [where, request] of requests(v)) {
      const reads = stringReads(() => engine.evaluate(request)) / v.length;
      assert.ok(reads <= 64, `${JSON.stringify(v.slice(0, 20))} in ${where}: ${reads.toFixed(0)} reads per character`);
    }
  }
});

test('a bare internal host in a parameter named for a host: query, form and JSON; the same values elsewhere, and public hosts there, pass', () => {
  // `fetch(\`http://${host}/status\`)` with `host` from the request reaches the server itself or its metadata service.
  const hosts = ['127.1', 'localhost', 'localhost:8080/admin', '0x7f000001', '2130706433', '169.254.169.254', '[::1]:3000', 'metadata.google.internal', '127.0.0.1.nip.io'];
  for (const name of ['host', 'url', 'webhookUrl', 'callback_url', 'targetHost', 'config[endpoint]']) {
    assertDecided(blockingEngine(), 'attack-ssrf', hosts, (v) => asParameter(v, name));
  }
  // Prices, versions, ids and words in other parameters; public hosts in host parameters.
  assertDecided(blockingEngine(), 'passed', ['127.1', 'localhost', '0x7f000001', '2130706433'], (v) => asParameter(v, 'price'));
  for (const name of ['host', 'url']) assertDecided(blockingEngine(), 'passed', ['example.com', '203.0.113.9', 'api.example.com:8443', 'shop.example/cart', 'www.localhost-shop.com'], (v) => asParameter(v, name));
});
