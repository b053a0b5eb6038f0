/**
 * Red-team findings on NoSQL, prototype pollution and template injection (operator parameter names,
 * blank-padded and comment-split template expressions, `/`- and `:`-separated key paths): each payload
 * through the Engine as the query string, a urlencoded form body and a JSON body, and benign look-alikes
 * that must still pass.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

const evaluate = (req: Record<string, unknown>): string =>
  engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/s', headers: {}, ...req } as Parameters<Engine['evaluate']>[0]).category;

/** A raw `a=1&b=2` text as the query string and as a urlencoded body. */
function rawParts(raw: string): Record<string, string> {
  return {
    query: evaluate({ url: '/s?' + raw }),
    form: evaluate({ method: 'POST', url: '/s', body: { kind: 'form', text: raw, bytes: Buffer.from(raw, 'latin1') } }),
  };
}

/** One value as the query value `q`, the form field `q` and the JSON field `q`. */
function asValue(p: string): Record<string, string> {
  const form = 'q=' + encodeURIComponent(p);
  return {
    ...Object.fromEntries(Object.entries(rawParts(form))),
    json: evaluate({ method: 'POST', url: '/s', body: { kind: 'json', text: JSON.stringify({ q: p }) } }),
  };
}

const every = (verdicts: Record<string, string>, want: string, label: string) => {
  for (const [where, got] of Object.entries(verdicts)) assert.equal(got, want, `${label} in ${where}`);
};

test('N1/N2: a parameter named as a query operator is a top-level operator of find(req.query) (qs and node:querystring)', () => {
  // `$where` runs server-side JavaScript (sleep, blind extraction); `$or` widens the filter.
  for (const raw of ['$where=sleep(5000)', 'name=x&$where=this.password.match(/^a/)', '%24where=sleep(5000)', '$or[0][role]=admin&$or[1][_id]=x', '$expr[$gt][0]=1', '$regex=^adm']) {
    every(rawParts(raw), 'attack-nosql', raw);
  }
  // The same keys in a JSON body (already caught): the three readings agree.
  assert.equal(evaluate({ method: 'POST', url: '/s', body: { kind: 'json', text: '{"$where":"sleep(5000)"}' } }), 'attack-nosql');
  // A query string carried in a value (a forwarded query) names the operator the same way.
  every(asValue('$where=sleep(5000)'), 'attack-nosql', 'value $where=');
  // Look-alikes: `$`, `price$`, `$5`, OData options and prose pass.
  for (const raw of ['$=1', 'price$=5', '$5=10', '$top=5&$filter=a', '$search=blue', 'q=$where', 'q=%24where%20is%20my%20order%3F', '$wherever=1', 'a=$ne']) {
    every(rawParts(raw), 'passed', raw);
  }
  for (const p of ['$where is my order?', 'costs $5 or $10', 'Use $or in MongoDB queries']) every(asValue(p), 'passed', p);
});

test('E2–E4: an expression behind hundreds of blanks after the opener (lodash _.template RCE)', () => {
  // `_.template` evaluates `<%= %>`, `${ }` and, with mustache settings, `{{ }}`: the blanks are skipped by JavaScript.
  const rce = "process.getBuiltinModule('child_process').execSync('id')";
  for (const p of ['<%=' + ' '.repeat(400) + rce + ' %>', '${' + ' '.repeat(400) + rce + '}', '{{' + ' '.repeat(400) + rce + '}}', '{{' + '\n\t '.repeat(300) + rce + '}}']) {
    every(asValue(p), 'attack-template', JSON.stringify(p.slice(0, 8)));
  }
  for (const p of ['price ${ amount }', '{{' + ' '.repeat(500) + 'name}}', '${' + ' '.repeat(450) + '}', '<%=' + ' '.repeat(450) + 'user.name %>']) every(asValue(p), 'passed', p);
});

test('E1/E5: comments between a callee and `(`, and octal or identity escapes in strings (lodash _.template)', () => {
  // `Function('…')()` builds and calls a function; `\160` and `\o` are `p` and `o` in a sloppy-mode string.
  for (const p of [
    "<%= Function/**/('return \\160rocess.getBuiltinModule/**/(\"child_\\160rocess\").execSync/**/(\"id\")+\"\"')/**/() %>",
    "${Function/**/('return 49')/**/()}",
    "{{Function/* x */('return 49')/**/()}}",
    "<%= Function/**/('return pr\\ocess.version')/**/() %>",
  ]) every(asValue(p), 'attack-template', p);
  for (const p of ['/* note */ {{ name }}', 'C:\\temp\\101 and ${HOME}', '{{ name /* the user */ }}']) every(asValue(p), 'passed', p);
});

test('E6: a close inside a string literal does not end a Jinja/Nunjucks/Handlebars expression', () => {
  // Those lexers skip `}}` in a quoted string, so the call after it runs.
  for (const p of ['{{"}}"+range.constructor("return process")()}}', "{{ '}}' ~ cycler.__init__ }}"]) every(asValue(p), 'attack-template', p);
  for (const p of ['Hi {{ name }}, it\'s {{ day }}', "{{ user's }} and it's {{ name }}", '{{ "a}}b" }}', 'Use {{ "}}" }} to print braces']) every(asValue(p), 'passed', p);
});

test('P1–P3, P5: __proto__ and constructor→prototype in `/` and `:` key paths (JSON Pointer, JSON Patch, nconf)', () => {
  // A naive JSON-Pointer or `a:b:c` setter walks these keys into Object.prototype.
  for (const p of ['/__proto__/polluted', '/constructor/prototype/polluted', 'a:__proto__:polluted', 'constructor:prototype:polluted', 'a/b/__proto__/isAdmin']) {
    every(asValue(p), 'attack-prototype', p);
  }
  // JSON Patch `add` with such a path.
  for (const path of ['/__proto__/isAdmin', '/constructor/prototype/isAdmin']) {
    const text = JSON.stringify([{ op: 'add', path, value: true }]);
    assert.equal(evaluate({ method: 'POST', url: '/s', body: { kind: 'json', text } }), 'attack-prototype', text);
  }
  // Look-alikes: prose, URLs and ordinary pointers pass.
  for (const p of ['the constructor/prototype pattern', 'constructor: prototype chains', 'see /docs/prototype/intro', 'https://example.com/constructor/prototype', 'prototype/constructor/x', '/profile/name']) {
    every(asValue(p), 'passed', p);
  }
  const patch = JSON.stringify([{ op: 'replace', path: '/profile/name', value: 'x' }]);
  assert.equal(evaluate({ method: 'POST', url: '/s', body: { kind: 'json', text: patch } }), 'passed');
});

test('P4: a backslash inside a quoted bracket key that a lodash-style path parser drops', () => {
  // `a["__pro\to__"].x` is `a.__proto__.x` once unescaped.
  for (const p of ['a["__pro\\to__"].polluted', "a['\\_\\_proto\\_\\_'].x", 'x["con\\structor"]["proto\\type"].y']) every(asValue(p), 'attack-prototype', p);
  // Look-alikes: Markdown escapes in prose, Windows paths and other escaped keys pass.
  for (const p of ['Markdown \\_\\_proto\\_\\_ is deprecated', 'C:\\users\\proto\\file.txt', 'a["na\\me"].x']) every(asValue(p), 'passed', p);
});

test('openers without a brace, `<` or `@` are read too: Velocity `#set(…)` and `[[…]]`', () => {
  // The detector's gate left out `#` and `[`, so `#set(` reached it only beside a `{` elsewhere in the value.
  for (const p of ['#set($e="e")$e.getClass().forName("java.lang.Runtime")', '#set($x = $e.getClass())', '[[7*7]]']) every(asValue(p), 'attack-template', p);
  for (const p of ['#1 seller in #books', 'see [[Main Page]] and #set up notes', '#set( $foo = "bar" )']) every(asValue(p), 'passed', p);
});
