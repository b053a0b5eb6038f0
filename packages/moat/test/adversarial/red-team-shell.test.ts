/**
 * Red-team findings for the shell detector (S1–S17): each payload was run for real under dash and bash
 * by `exec('echo hello ' + value)`. Each group asserts its payloads blocked as shell in the query string,
 * a urlencoded form body, a JSON body, the path and (one-line payloads) the User-Agent, and its benign
 * look-alikes passed in the first three.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import type { MoatRequest } from '../../src/engine/decision.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

function requests(value: string, everywhere: boolean): [string, MoatRequest][] {
  const base = { ip: '192.0.2.1', method: 'GET', path: '/s', url: '/s', headers: {} };
  const form = 'q=' + encodeURIComponent(value);
  const list: [string, MoatRequest][] = [
    ['query', { ...base, url: '/s?q=' + encodeURIComponent(value) }],
    ['form', { ...base, method: 'POST', body: { kind: 'form', text: form, bytes: Buffer.from(form, 'latin1') } }],
    ['JSON', { ...base, method: 'POST', body: { kind: 'json', text: JSON.stringify({ q: value }) } }],
  ];
  if (everywhere) {
    list.push(['path', { ...base, path: '/s/' + encodeURIComponent(value), url: '/s/' + encodeURIComponent(value) }]);
    if (!/[\r\n]/.test(value)) list.push(['user agent', { ...base, headers: { 'user-agent': value } }]);
  }
  return list;
}

function check(payloads: readonly string[], benign: readonly string[]): void {
  for (const p of payloads) {
    for (const [where, request] of requests(p, true)) assert.equal(engine.evaluate(request).category, 'attack-shell', `${JSON.stringify(p)} in ${where}`);
  }
  for (const p of benign) {
    for (const [where, request] of requests(p, false)) assert.equal(engine.evaluate(request).category, 'passed', `${JSON.stringify(p)} in ${where}`);
  }
}

test('S1–S4, S6, S9: a wrapper (command, env, eval, exec, nohup, xargs) runs the command after it', () => {
  // `x;env cat /etc/passwd` into exec('ping -c1 ' + host): /bin/sh runs cat through the wrapper.
  check(
    ['x;command cat /etc/passwd', 'x;env cat /etc/passwd', 'x;eval cat /etc/passwd', "x;env sh -c 'cat /etc/passwd'", 'x\ncommand cat /etc/passwd', 'x;exec id', 'x&command id', 'x;nohup id', 'x;xargs -I{} sh -c id', 'x;env -i PATH=/bin id', 'x;nohup env exec id'],
    ['done; exec summary', 'We; command respect', 'env; vars', 'Ctrl+C; command line', 'the env variables; eval results'],
  );
});

test('S7, S8: `!` and the reserved words if/then/do/while/until start a command', () => {
  // `x;if id;then :;fi` into exec('echo ' + v): the shell runs `id` as the condition.
  check(
    ['x;! cat /etc/passwd', 'x;if id;then :;fi', 'x;if true;then id;fi', 'x;while id;do break;done', 'x;until id; do :; done', 'x;if ! id;then :;fi'],
    ['x; if you want', 'fine; then cat food', 'ok; then head home', 'Eat less; do more; live better', 'Tom & then some', 'He said; if so, then fine', 'Wow; ! important', 'If; while; until'],
  );
});

test('time, timeout, nice, sudo and assignments before a command keep the separator\'s reading', () => {
  // `x;time id` (bash), `x;timeout 5 id`: the command after them runs.
  check(
    ['x;time id', 'x;timeout 5 id', 'x;nice -n 10 id', 'x;sudo -u root id', 'x;A=1 id', 'x;PATH=/bin:/usr/bin id', 'x;time cat /etc/passwd'],
    ['x; time flies', 'first; sudo make me a sandwich', 'x = 1; y = 2', 'a=b; c=d', 'Settings: retries 3; timeout 30'],
  );
});

test('S15: `.` and `source` run a script', () => {
  // `x;. /tmp/s.sh`: the shell reads and runs the file.
  check(['x;. /tmp/lead/hunt/other/s.sh', 'x;. ./up.sh', 'x;source /tmp/x.sh', 'x;source ~/x'], ['great meme; source /r/funny', 'see; . Next', 'source: the web; source code']);
});

test('S5: `&name;` is an HTML reference only when the name is an entity, not a command', () => {
  // `x&id;` runs id in the background; `&reg;` is ®.
  check(['x&id;', 'x&whoami;', 'a&reboot;'], ['caf&eacute; &reg; 2024', 'AT&T; B&W; R&D;', '&copy; 2024; &trade;', 'Tom &amp; Jerry; &lt;b&gt;']);
});

test('S13: a long `//` or `/./` prefix still names the command', () => {
  // `x;////…/usr/bin/id`: the kernel collapses the slashes.
  check(['x;' + '/'.repeat(44) + 'usr/bin/id', 'x;' + '/.'.repeat(22) + '/usr/bin/id', 'x;\\/' + '/'.repeat(50) + 'bin/i\\d'], ['notes; ///// section ///// end', 'docs/../readme.txt; ./././ done']);
});

test('S12: a backslash-newline inside a word joins it', () => {
  // `x;i\⏎d` is `id` to the shell.
  check(['x;i\\\nd', 'x;wh\\\noami', 'x;c\\\nat /etc/passwd'], ['a line\\\ncontinued; ok', 'C:\\dir; \\\nnext']);
});

test('S10: `$0` is the shell itself', () => {
  // `x;$0 -c id` runs `sh -c id`.
  check(['x;$0 -c id', 'x;${0} -c id', 'x;$SHELL -c id'], ['Shipping: $5; $0 for members', 'Price; $0 - free', 'ok; $0']);
});

test('S16: versioned interpreters (python3.11, perl5.36, php8.2)', () => {
  // `x;python3.11 -c '…'` runs Python.
  check(["x;python3.11 -c 'import os;os.system(\"id\")'", 'x;perl5.36 -e 1', 'x;php8.2 -r 1', "x;lua5.4 -e 'os.execute(1)'"], ['upgrade; php8.2 release notes', 'read; lua5.4 manual']);
});

test('S14: bash brace expansion `{id,}`', () => {
  // `x;{id,}` expands to `id` in bash.
  check(['x;{id,}', 'x;{cat,/etc/passwd}', 'x;{whoami,}'], ['query;{id,name}', 'price {id,name}', 'fields; {a,b}']);
});

test('S11: variables assigned earlier in the value glue a command', () => {
  // `x;a=i;b=d;$a$b` runs `id`.
  check(['x;a=i;b=d;$a$b', 'x;c=ca;d=t;$c$d /etc/passwd'], ['a=1;b=2;$a and $b', 'x;$a$b']);
});

test('S17: tar, git, zip, rsync and awk variants run a command through an option', () => {
  // `x;tar … --checkpoint-action=exec=id` runs id.
  check(
    ['x;tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=id', 'x;git -c core.pager=id help', 'x;zip x.zip /etc/hosts -T -TT id', "x;mawk 'BEGIN{system(\"id\")}'", "x;rsync -e 'sh -c id' x:/ ."],
    ['City: Boston; zip 02134', 'Tools: svn; git', 'a; tar pit', 'vim; emacs'],
  );
});

test('benign false positives: a number after date/time/timeout, and lists of short capitals between pipes', () => {
  // Still blocked: the same words used as commands.
  check(['x;date', 'x|id', 'x|w', 'x;sleep 5', 'x|ID'], ['meet at 10:30; date 5', 'version 1.0; time 12', 'cost: 5 & up; date 3/4', 'N|E|S|W', 'S|M|L|XL|W', 'sizes: S|M|L']);
});

test('ps and net with their own argument words (`ps aux`, `net user`) run where a plain word would be prose', () => {
  // `x;ps aux` lists every process, `x;net user` every Windows account; before, "aux" and "user" read as prose.
  check(
    ['127.0.0.1\r\nps aux', 'x;ps aux', 'x & ps auxww', 'x|ps axjf', '\nnet user', 'x;net user', 'x;net user admin /add', 'x & net localgroup administrators /add', 'x;net share'],
    ['Revenue up; net user growth was flat', 'Thanks; ps auxiliary staff were great', 'Sales & net users rose', 'gross; net share of the market grew'],
  );
});
