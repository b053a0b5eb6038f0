/**
 * False positives found by the benign-input hunt on SSRF: clock times, dates, phone numbers, MAC addresses,
 * unit prices and versions whose first field is 0–07 were read as a bare `host:port` or `host/path` on
 * 0.0.0.x ("this host"), and a Referer from a development front end on loopback as a URL to fetch. Each is
 * asserted to pass in the query string, a urlencoded form and a JSON body, beside look-alike attacks of
 * the same shape that stay blocked.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { MoatRequest } from '../../src/engine/decision.js';
import { asParameter, assertDecided, blockingEngine } from '../helpers/attack-engine.js';

const engine = blockingEngine();
const requests = (value: string) => asParameter(value, 'v');
const blocked = (values: readonly string[]) => assertDecided(engine, 'attack-ssrf', values, requests);
const passed = (values: readonly string[]) => assertDecided(engine, 'passed', values, requests);

function referer(value: string): string {
  return engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/s', url: '/s', headers: { referer: value } }).category;
}

test('clock times, timestamps and time ranges from 00:00 to 07:59 pass; a zero-led host with a port in hex or octal with dots stays blocked', () => {
  passed(['00:00', '00:15', '00:45', '01:30', '03:45pm', '05:12', '06:30', '07:30', '00:00:05', '01:23:45', '07:30:15', '01:02:03.456', '05:00-06:00', '06:00–18:00', '00.30', '0:30']);
  blocked(['0x0:80/', '0x7f.1:80/metadata/instance', '0177.1:6379', '0177.0.0.1:80/', '017700000001:80/latest/user-data', '127.1:6379', '0.0.0.0:80']);
});

test('dates with a day or month 01–07 pass; a dotted quad and a host with a path stay blocked', () => {
  passed(['01/01/2024', '01/02/2024', '04/07/2024', '05/06/1990', '07/04/2024', '07/28/2024', '01/02', '07/04', '05/06/07', '00/100', '0000/00/00', '07.04.2024']);
  blocked(['0177.0.0.1', '0x7f.0.0.1/admin', '127.0.0.1/admin', '169.254.169.254/latest/meta-data/', '0251.0376.0251.0376:80/']);
});

test('phone numbers, MAC addresses, unit prices and hex constants pass', () => {
  passed(['030/12345678', '040/1234567', '0221/1234567', '0711/123456', '0177/1234567', '06221/123456', '01/5881234', '06/12345678']);
  passed(['00:1A:2B:3C:4D:5E', '02:42:ac:11:00:02', '04:7D:7B:12:34:56', '00:00:00:00:00:00']);
  passed(['0.04/GB', '0.05/kWh', '0.023/GB-month', '0.07/min', '0.01/share', '0.02/request', '0.05', '0x7fffffff', '0x0', '017712345670']);
  blocked(['0x7fffffff:80/', '2130706433:80/', '//0x0/', '//07/admin', 'http://0177/', 'http://0/']);
});

test('four-part versions starting with 0 pass; 0.0.0.0 and a 0.x.y.z with a port stay blocked', () => {
  passed(['0.1.2.3', '0.9.8.1', '0.12.0.3', '0.0.1.0']);
  blocked(['0.0.0.0', '0.1.2.3:80/', '127.0.0.1', '169.254.169.254']);
});

test('whole bodies and query strings of dates and times pass', () => {
  const base = { ip: '192.0.2.1', method: 'POST', path: '/s', url: '/s', headers: {} };
  const json = (text: string): MoatRequest => ({ ...base, body: { kind: 'json', text } });
  const form = (text: string): MoatRequest => ({ ...base, body: { kind: 'form', text, bytes: Buffer.from(text, 'latin1') } });
  for (const r of [
    json('{"dob":"05/06/1990","appointment":"07/04/2024 07:30"}'),
    json('{"events":[{"title":"Standup","start":"09:00"},{"title":"Gym","start":"06:30"}]}'),
    json('{"video":{"id":"abc","chapters":[{"t":"00:00","title":"Intro"},{"t":"01:30","title":"Setup"}]}}'),
    form('dob=05%2F06%2F1990&time=07%3A30'),
    { ...base, method: 'GET', url: '/s?from=01/02/2024&to=05/06/2024&start=07:30&end=16:00' },
    { ...base, method: 'GET', headers: { cookie: 'last_seen=07/04/2024; login_time=07:30' } },
  ] as MoatRequest[]) assert.equal(engine.evaluate(r).category, 'passed', JSON.stringify(r.body ?? r.url ?? r.headers));
  assert.equal(engine.evaluate(json('{"dob":"05/06/1990","avatar":"0x7f.1:80/latest/meta-data/"}')).category, 'attack-ssrf');
});

test('a Referer from a development front end on loopback passes; metadata, obfuscated and confused ones stay blocked', () => {
  // The browser writes the page it came from: lower-case scheme, canonical address, decimal port.
  for (const v of ['http://localhost:3000/', 'http://localhost:3000/checkout?step=2', 'http://localhost:5173/', 'http://127.0.0.1:5500/index.html', 'http://127.0.0.1:8000/admin/', 'http://0.0.0.0:8080/', 'http://[::1]:3000/', 'http://localhost']) {
    assert.equal(referer(v), 'passed', v);
  }
  for (const v of [
    'http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/computeMetadata/v1/', 'http://[fd00:ec2::254]/', 'http://127.1/', 'http://0x7f.0.0.1/', 'http://2130706433/',
    'http://LOCALHOST:8080/', 'http://localhost:3000@169.254.169.254/', 'http://127.0.0.1.nip.io/', 'http://localhost.169.254.169.254.nip.io/', 'http://localhost:3000/?next=http://169.254.169.254/latest/meta-data/',
    'http://localhost:3000\\@169.254.169.254/', 'gopher://127.0.0.1:6379/_INFO',
  ]) assert.equal(referer(v), 'attack-ssrf', v);
  // What follows the origin is still read by every detector.
  assert.equal(referer("http://localhost:3000/search?q=' UNION SELECT password FROM users--"), 'attack-sqli');
  assert.equal(referer('http://localhost:3000/?q=<script>alert(1)</script>'), 'attack-xss');
});
