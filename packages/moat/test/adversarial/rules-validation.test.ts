// Rules that would turn the firewall against its own site, or give false confidence, attacked through a
// real Express app on a real socket: what the compiler keeps (spaces inside substring rules), what it
// refuses (a "/" block, blank values, wildcard hosts, sub-second or zero rate limits), and what a rules
// file written by an older Moat with such a rule does to a running app (refused; the app keeps serving).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import path from 'node:path';
import express from 'express';
import { moat } from '../../src/adapters/express.js';
import type { MoatErrorEvent } from '../../src/firewall/options.js';
import { parseRulesDocument } from '../../src/rules/document.js';
import { RuleError } from '../../src/rules/rule-error.js';
import { close, listen, rulesFile, send } from '../adapters-helpers.js';
import { block, makeTmpDir, rateLimit, removeDir } from '../helpers/engine-kit.js';
import { olderRulesFile } from '../helpers/older-rules-file.js';

async function app(rules: string, events: MoatErrorEvent[] = []): Promise<number> {
  const middleware = moat({ rules, logger: false, onError: (e) => events.push(e) });
  const server = createServer(express().use(middleware).use((_req, res) => { res.send('page'); }));
  const port = await listen(server);
  after(async () => {
    await close(server);
    middleware.firewall.close();
  });
  return port;
}

function compileFails(document: object, message: RegExp): void {
  assert.throws(() => rulesFile(document), (e: unknown) => e instanceof RuleError && message.test(e.message));
}

describe('rules validation against attacks on Express', () => {
  test('GET /?q=1; DROP TABLE users is blocked by a "; " param rule, and GET /?a=1;b=2 is not: the space is kept', async () => {
    const rules = rulesFile({ block: { params: ['; '] } });
    after(() => rules.cleanup());
    const port = await app(rules.path);
    assert.equal((await send(port, { path: '/search?q=1%3B%20DROP%20TABLE%20users' })).status, 403);
    assert.equal((await send(port, { path: '/search?q=1;+DROP+TABLE+users' })).status, 403);
    assert.equal((await send(port, { path: '/matrix?a=1;b=2' })).status, 200, 'a semicolon without a space is not the rule');
  });

  test('a "/" path block, a blank user-agent rule and an empty param rule are refused at compile: they would 403 every visitor', () => {
    compileFails({ block: { paths: ['/'] } }, /a path rule of "\/" matches every request and would block the whole site/);
    compileFails({ block: { userAgents: [' '] } }, /value is only spaces/);
    compileFails({ block: { params: [''] } }, /value is empty/);
  });

  test('a rules document nested 100,000 levels deep (JSON or YAML flow) is refused before the YAML parser sees it', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    for (const text of [`{"block":{"ips":${deep(100_000)}}}`, `block:\n  ips: ${deep(100_000)}\n`]) {
      assert.throws(() => parseRulesDocument(text, 'rules.yaml'), (e: unknown) => e instanceof RuleError && /nested more than 64 levels/.test(e.message));
    }
    // Brackets inside quoted values are text, not nesting.
    assert.equal(parseRulesDocument(`block:\n  paths: ["${'['.repeat(100)}"]\n`, 'rules.yaml').length, 1);
  });

  test('a *.example.com host rule is refused at compile instead of silently never blocking admin.example.com', async () => {
    compileFails({ block: { hosts: ['*.example.com'] } }, /wildcard hosts are not supported/);
    const rules = rulesFile({ block: { hosts: ['admin.example.com'] } });
    after(() => rules.cleanup());
    const port = await app(rules.path);
    assert.equal((await send(port, { headers: { host: 'ADMIN.example.com.' } })).status, 403, 'the exact host, as listed, is blocked');
  });

  test('a POST /login limit of 0, or of 5 per 500 ms, is refused at compile: it would lock everyone out or let a flood through', () => {
    compileFails({ rateLimits: [{ path: '/login', method: 'POST', limit: 0, window: '60s' }] }, /"limit" must be a whole number from 1/);
    compileFails({ rateLimits: [{ path: '/login', method: 'POST', limit: 5, window: '500ms' }] }, /window must be at least 1s/);
  });

  test('a rules file from an older Moat with a "/" block rule does not 403 every visitor: refused at start, reported, the app keeps serving', async () => {
    const dir = makeTmpDir();
    after(() => removeDir(dir));
    const file = olderRulesFile(path.join(dir, 'old.db'), [block('path', '/x', { id: 'site-down' })], "UPDATE rules SET value = '/' WHERE id = 'site-down'");
    const events: MoatErrorEvent[] = [];
    const port = await app(file, events);
    assert.equal((await send(port, { path: '/' })).status, 200);
    assert.equal((await send(port, { path: '/account' })).status, 200);
    assert.equal(events.length, 1);
    assert.equal(events[0].kind, 'startup');
    assert.match(events[0].error.message, /rule "site-down": a path rule of "\/" matches every request/);
  });

  test('a rules file from an older Moat with a 0-per-500ms POST /login limit is refused at start, not enforced as "refuse every login"', async () => {
    const dir = makeTmpDir();
    after(() => removeDir(dir));
    const file = olderRulesFile(path.join(dir, 'old.db'), [rateLimit('/login', 5, '1m', { id: 'login', method: 'POST' })],
      "UPDATE rules SET rl_limit = 0, rl_window_ms = 500 WHERE id = 'login'");
    const events: MoatErrorEvent[] = [];
    const port = await app(file, events);
    assert.equal((await send(port, { method: 'POST', path: '/login', body: '' })).status, 200);
    assert.equal(events[0]?.kind, 'startup');
    assert.match(events[0].error.message, /rule "login": rate limit "limit" must be/);
  });
});
