// Rate-limit and path rules written in forms no request path has: a rule kept in such a form counts or
// blocks nothing, silently. The compiler reads a rule's path as the engine reads a request's (decoded,
// an exact path without its trailing slash) and refuses what no path can hold (`?`, `#`, an inner `*`).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Engine, RuleError, loadRulesFile, parseRulesDocument, writeRulesFile } from '../../src/index.js';
import type { Rule } from '../../src/index.js';
import { normalizePath, pathForms } from '../../src/http/request-path.js';
import { withTmpDir } from '../helpers/engine-kit.js';

function engineOf(rules: readonly Rule[], dir: string): Engine {
  const file = path.join(dir, `rules-${Math.random().toString(36).slice(2)}.db`);
  writeRulesFile(rules, file);
  let now = 1_000_000;
  return new Engine({ rules: loadRulesFile(file), now: () => (now += 1) });
}

/** The treatments of `rawPaths` sent in turn by one client, read as the HTTP layer reads them. */
function send(engine: Engine, rawPaths: readonly string[], method = 'POST'): string {
  return rawPaths.map((raw) => {
    const p = normalizePath(raw);
    return engine.evaluate({ ip: '192.0.2.10', method, path: p, pathForms: pathForms(raw, p) }).treatment[0];
  }).join('');
}

function refused(yaml: string, message: RegExp): void {
  assert.throws(() => parseRulesDocument(yaml, 'rules.yaml'), (e: unknown) =>
    e instanceof RuleError && e.problems.length === 1 && /^rules\.yaml:\d+: rateLimits\[0\]: /.test(e.problems[0]!) && message.test(e.problems[0]!));
}

describe('rate-limit paths', () => {
  test('a limit on "/login/" also counts "/login", which Express routes to it', () =>
    withTmpDir((dir) => {
      const rules = parseRulesDocument('rateLimits: [{path: /login/, limit: 1, window: 60s}]');
      assert.equal(rules[0]!.kind === 'rateLimit' && rules[0]!.rateLimit.path, '/login');
      assert.equal(send(engineOf(rules, dir), ['/login', '/login', '/login/']), 'PBB');
    }));

  test('a file compiled before, holding "/login/" as the exact path, still counts "/login"', () =>
    withTmpDir((dir) => {
      const old: Rule = {
        id: 'old-login', action: 'block', kind: 'rateLimit', value: '/login/', mode: 'block',
        rateLimit: { method: null, path: '/login/', match: 'exact', limit: 1, windowMs: 60_000 },
      };
      assert.equal(send(engineOf([old], dir), ['/login', '/login']), 'PB');
    }));

  test('"/caf%C3%A9" is the path "/café" and counts requests for it', () =>
    withTmpDir((dir) => {
      const rules = parseRulesDocument('rateLimits: [{path: "/caf%C3%A9", limit: 1, window: 60s}]');
      assert.equal(rules[0]!.value, '/café');
      assert.equal(send(engineOf(rules, dir), ['/caf%C3%A9', '/caf%c3%a9']), 'PB');
      assert.deepEqual(parseRulesDocument('rateLimits: [{path: "/café", limit: 1, window: 60s}]')[0]!.value, '/café');
    }));

  test('"?", "#" and any "*" but a final one are refused, naming the entry', () => {
    refused('rateLimits: [{path: "/login?next=1", limit: 5, window: 60s}]', /query or fragment/);
    refused('rateLimits: [{path: "/login#top", limit: 5, window: 60s}]', /query or fragment/);
    refused('rateLimits: [{path: "/api/**", limit: 5, window: 60s}]', /"\*" may only end the path/);
    refused('rateLimits: [{path: "/api/*/items", limit: 5, window: 60s}]', /"\*" may only end the path/);
    refused('rateLimits: [{path: "/caf%C3", limit: 5, window: 60s}]', /not UTF-8/);
    // The forms the docs give still compile.
    const ok = parseRulesDocument('rateLimits: [{path: /api/*, limit: 5, window: 60s}, {path: /, limit: 5, window: 60s}, {path: /api, match: prefix, limit: 5, window: 60s}]');
    assert.deepEqual(ok.map((r) => r.value).sort(), ['/', '/api*', '/api/*']);
  });
});

describe('path rules', () => {
  test('a path rule "/caf%C3%A9" blocks the request it names; "%C3" alone is refused', () =>
    withTmpDir((dir) => {
      const rules = parseRulesDocument('block: {paths: ["/caf%C3%A9"]}');
      assert.equal(rules[0]!.value, '/café');
      const engine = engineOf(rules, dir);
      assert.equal(send(engine, ['/caf%C3%A9', '/CAF%C3%89/menu', '/cafe'], 'GET'), 'BBP');
      assert.throws(() => parseRulesDocument('block: {paths: ["/x%C3"]}', 'rules.yaml'), (e: unknown) =>
        e instanceof RuleError && /block\.paths\[0\]: .*not UTF-8/.test(e.message));
    }));
});
