/**
 * False positives found by the benign hunt on NoSQL, prototype pollution and template injection: each
 * benign value through the Engine as the query value, a urlencoded form field and a JSON string, with
 * the attacks that look most like it asserted blocked beside it, so the fix stays a fix of structure.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { isNosqlOperatorKey } from '../../src/attacks/nosql/detect-nosql.js';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const info = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };
const engine = new Engine({ rules: buildRuleSet([], info, undefined, normalizeAttackSettings('block')) });

const evaluate = (req: Record<string, unknown>): string =>
  engine.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/s', headers: {}, ...req } as Parameters<Engine['evaluate']>[0]).category;

/** One value as the query value `q`, the form field `q` and the JSON field `q`. */
function asValue(p: string): Record<string, string> {
  const form = 'q=' + encodeURIComponent(p);
  return {
    query: evaluate({ url: '/s?' + form }),
    form: evaluate({ method: 'POST', url: '/s', body: { kind: 'form', text: form, bytes: Buffer.from(form, 'latin1') } }),
    json: evaluate({ method: 'POST', url: '/s', body: { kind: 'json', text: JSON.stringify({ q: p }) } }),
  };
}

const every = (values: string[], want: string) => {
  for (const p of values) for (const [where, got] of Object.entries(asValue(p))) assert.equal(got, want, `${JSON.stringify(p)} in ${where}`);
};

test('nosql: a quoted word, then `;` and two words side by side ("let us know", "return shipping was") is prose, no $where break-out', () => {
  every([
    'I ordered the "XL"; return shipping was free.',
    'Your order status is "shipped"; let us know if you have questions.',
    'It\'s labelled "fragile"; let me know if it arrives damaged.',
    'Set to "private"; let me know if you can\'t see it.',
    "Marked 'pending'; let us know by Friday",
    'Size "M"; var sizes may differ',
  ], 'passed');
  // JavaScript goes on after the keyword: an operator, a call, a property or a line break between the words.
  every([
    "'; return true; var x='",
    "'; return this.password != ''; var a='",
    "'; let x = sleep(5000); var y='",
    "'; throw new Error(); var x='",
    "'; return typeof x == 'y' //",
    "'; return await sleep(5000)//",
    '"; return x in this //',
    "'; return\n x //",
  ], 'attack-nosql');
});

test('nosql: a JSON Schema $comment (a string beside schema keywords) is no MongoDB operator when the holder is known', () => {
  assert.equal(isNosqlOperatorKey('$comment', { $schema: 'http://json-schema.org/draft-07/schema#', $comment: 'Generated; do not edit', type: 'object' }), false);
  assert.equal(isNosqlOperatorKey('$comment', { properties: {}, $comment: 'x' }), false);
  // Beside no schema keyword, with a non-string value, or without the holder it stays an operator; other operators stay.
  assert.equal(isNosqlOperatorKey('$comment', { name: 'x', $comment: 'x' }), true);
  assert.equal(isNosqlOperatorKey('$comment', { type: 'object', $comment: { $ne: 1 } }), true);
  assert.equal(isNosqlOperatorKey('$comment'), true);
  assert.equal(isNosqlOperatorKey('$where', { type: 'object', $where: 'sleep(5000)' }), true);
});

test('prototype: __proto__ named between words in a sentence is prose; beside a separator it is a key path', () => {
  every([
    'Never use __proto__ directly; use Object.getPrototypeOf instead.',
    "What's the difference between __proto__ and prototype?",
    'Is __proto__ deprecated in Node 22?',
    'I read about __proto__ pollution in lodash',
  ], 'passed');
  every(['see __proto__.isAdmin', 'a[ __proto__ ][isAdmin]=1', '{ __proto__ : {"isAdmin": true}}', 'x __proto__[isAdmin]', '__proto__ isAdmin', 'use __proto__'], 'attack-prototype');
});

test('template: a plain property path is inert whatever the object is called; a call, a dunder or a sensitive member is not', () => {
  every([
    '{{ session.title }}',
    'Your talk {{session.title}} is confirmed',
    'Download {{file.name}} here',
    'Request {{request.id}} was updated',
    'Your session {{session.title}} starts at {{session.start}}',
    'Ticket {{ request.subject }}',
  ], 'passed');
  every([
    '{{ request.environ }}',
    '{{request.args.x}}',
    '{{ request . application }}',
    '{{request}}',
    '{{ session.__class__ }}',
    '${session.getAttribute("x")}',
    '#{request.class.classLoader}',
    '<%= File.read "/etc/passwd" %>',
    "#{File.read '/etc/passwd'}",
  ], 'attack-template');
});

test('template: Mustache and Handlebars sections are logic-less; an expression inside one, or OGNL `#`, is not', () => {
  every([
    '{{#each items}}<li>{{name}}</li>{{/each}}',
    '{{#if user}}Welcome back, {{user.name}}!{{/if}}',
    '{{#items}}{{name}}{{/items}}',
    '{{#if first_name}}Hi {{first_name}}{{else}}Hi there{{/if}}',
    '{{#with author}}{{firstName}} {{lastName}}{{/with}}',
  ], 'passed');
  every([
    '{{#with "s" as |string|}}{{string.sub.apply 0 codelist}}{{/with}}',
    '{{#each this}}{{lookup this "constructor"}}{{/each}}',
    '{{#with (string.sub.apply 0 codelist)}}{{this}}{{/with}}',
    '{{#7*7}}',
    '${#context}',
  ], 'attack-template');
});

test('template: CSS declarations after the universal selector `*{` are no Thymeleaf expression', () => {
  every(['*{-webkit-tap-highlight-color:rgba(0,0,0,0)}', '*{transition:opacity .2s cubic-bezier(.4,0,.2,1)}', '*{outline-color:hsl(210 50% 40%)}'], 'passed');
  every(["*{T(java.lang.Runtime).getRuntime().exec('id')}", '*{7*7}', "*{ T(java.lang.Runtime).getRuntime().exec('id') }"], 'attack-template');
});
