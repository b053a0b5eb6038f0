// A rule set compiled in the load worker and put together again on the serving thread (managed mode's
// path for every rules update) must give the engine objects V8 handles as fast as the ones a direct
// load builds: no dictionary-mode (slow-property) objects where the engine reads on every request, and
// the same decisions. A structural check (%HasFastProperties), so it holds on a busy machine.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { Engine } from '../src/engine/engine.js';
import type { MoatRequest } from '../src/engine/decision.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { loadRulesOffThread } from '../src/loading/load-off-thread.js';
import { rulesBytes, tempDir } from './helpers/fake-hub.js';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set, so the intrinsic parses.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

/** Every object the engine reaches from the rule set, one level into the rules and index entries. */
function shapes(rules: object): Map<string, boolean> {
  const out = new Map<string, boolean>([['ruleSet', hasFastProperties(rules)]]);
  for (const [key, value] of Object.entries(rules)) {
    if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) continue;
    out.set(key, hasFastProperties(value));
    if (Array.isArray(value)) value.slice(0, 50).forEach((v, i) => { if (v !== null && typeof v === 'object') out.set(`${key}[${i}]`, hasFastProperties(v)); });
  }
  return out;
}

const document = {
  block: {
    paths: ['/wp-admin', '/.env', '/xmlrpc.php'], userAgents: ['sqlmap', 'nikto'], params: ['union select'],
    ips: ['198.51.100.0/24', '2001:db8::/48'], hosts: ['evil.example'], methods: ['TRACE'],
  },
  allow: { ips: ['203.0.113.9'] },
};

test('a rule set received from the load worker has the fast-property objects of a direct load, and the same decisions', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'rules.db');
    writeFileSync(path, rulesBytes(document).body);
    const direct = loadRulesFile(path);
    const received = await loadRulesOffThread({ path, verify: null });
    const want = shapes(direct);
    const got = shapes(received);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [key, fast] of got) assert.equal(fast, want.get(key), `${key}: fast properties ${fast} after the transfer, ${want.get(key)} loaded directly`);
    assert.ok(got.get('ruleSet') && got.get('rules[0]'), 'the rule set and its rules are fast-property objects');

    const a = new Engine({ rules: direct });
    const b = new Engine({ rules: received });
    const base = { ip: '192.0.2.1', method: 'GET', host: 'shop.example', path: '/', params: undefined, userAgent: 'Mozilla/5.0' };
    const attacks: Partial<MoatRequest>[] = [
      {}, { path: '/wp-admin/x' }, { userAgent: 'sqlmap/1.7' }, { params: 'q=1 union select 2' }, { ip: '198.51.100.7' },
      { ip: '2001:db8::1' }, { ip: '203.0.113.9', path: '/wp-admin' }, { host: 'evil.example' }, { method: 'TRACE' },
    ];
    for (const attack of attacks) {
      const request = { ...base, ...attack } as MoatRequest;
      assert.deepEqual(b.evaluate(request), a.evaluate(request), JSON.stringify(attack));
    }
    assert.equal(b.evaluate({ ...base, path: '/wp-admin/x' } as MoatRequest).treatment, 'Blocked');
  } finally {
    cleanup();
  }
});
