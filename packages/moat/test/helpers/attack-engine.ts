// What the attack tests judge with: an engine with no rules and every attack category blocking, and a
// value sent the three ways an app receives a parameter (a query string, a urlencoded form body, JSON).
import { strict as assert } from 'node:assert';
import type { MoatRequest } from '../../src/engine/decision.js';
import { Engine } from '../../src/engine/engine.js';
import { buildRuleSet } from '../../src/engine/rule-set.js';
import { normalizeAttackSettings } from '../../src/rules/attack-settings.js';

const INFO = { path: null, format: 'moat' as const, formatVersion: 1, builtAt: null, hash: '' };

/** A new engine with every category blocking (its memo of quiet requests starts empty). */
export function blockingEngine(): Engine {
  return new Engine({ rules: buildRuleSet([], INFO, undefined, normalizeAttackSettings('block')) });
}

/** `value` as parameter `name` of a query string, a urlencoded form body and a JSON body, each labelled. */
export function asParameter(value: string, name = 'q'): [string, MoatRequest][] {
  const form = `${name}=${encodeURIComponent(value)}`;
  const base = { ip: '192.0.2.1', path: '/s', url: '/s' };
  return [
    ['query', { ...base, method: 'GET', url: `/s?${form}`, headers: {} }],
    ['form', { ...base, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { kind: 'form', text: form, bytes: Buffer.from(form, 'latin1') } }],
    ['JSON', { ...base, method: 'POST', headers: { 'content-type': 'application/json' }, body: { kind: 'json', text: JSON.stringify({ [name]: value }) } }],
  ];
}

/** Asserts the engine decides `expected` ('passed' or 'attack-<category>') for each value, in each of its requests. */
export function assertDecided(engine: Engine, expected: string, values: readonly string[], requests: (value: string) => [string, MoatRequest][] = asParameter): void {
  for (const value of values) {
    for (const [where, request] of requests(value)) assert.equal(engine.evaluate(request).category, expected, `${JSON.stringify(value)} in ${where}`);
  }
}
