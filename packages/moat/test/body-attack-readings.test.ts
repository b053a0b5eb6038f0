// The JSON body attack detection reads when a compressed body has two readings (as sent, and as Moat
// inflated it): the one that parses, and both when both parse. A brotli stream made of uncompressed
// blocks can open with `\t"` and keep its block headers inside a JSON string, and Moat inflates a cut
// stream as far as it goes, so "a compressed stream is never JSON" is not a safe assumption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync } from 'node:zlib';
import { attackBody } from '../src/firewall/body-reading.js';
import { inflateBody } from '../src/http/inflate-body.js';
import { RequestAttackScan, compileAttackPolicy } from '../src/attacks/request-attacks.js';
import { normalizeAttackSettings } from '../src/rules/attack-settings.js';
import type { BodyToRead } from '../src/http/body-kind.js';

const JSON_BR: BodyToRead = { kind: 'json', coding: 'br', charset: 'utf-8' };
const policy = compileAttackPolicy(normalizeAttackSettings('block'))!;

function blockedBy(body: ReturnType<typeof attackBody>): string | undefined {
  const scan = new RequestAttackScan().run(policy, { path: '/api', url: '/api', body });
  return scan.block?.category;
}

test('a JSON body whose bytes as sent and whose inflated reading both parse is judged on both', () => {
  const sent = { bytes: Buffer.from(JSON.stringify({ q: "x' OR '1'='1" })), complete: true };
  const inflated = { bytes: Buffer.from('{"q":"fine"}'), complete: true };
  const body = attackBody(sent, inflated, JSON_BR);
  assert.equal(blockedBy(body), 'sqli', 'the reading as sent (Fastify, Bun and Deno read it) is judged');
  // And the other way round: the attack in the inflated reading (express.json() reads it).
  assert.equal(blockedBy(attackBody(inflated, sent, JSON_BR)), 'sqli');
  assert.doesNotThrow(() => JSON.parse((body as { text: string }).text));
});

test('an honest brotli JSON body is judged on its inflated reading alone, and its attack is found', async () => {
  const bytes = brotliCompressSync(JSON.stringify({ user: { name: '<svg onload=alert(1)>' } }));
  const inflated = await inflateBody({ bytes, complete: true }, 'br', 65_536);
  const body = attackBody({ bytes, complete: true }, inflated, JSON_BR);
  assert.equal((body as { text: string }).text, JSON.stringify({ user: { name: '<svg onload=alert(1)>' } }));
  assert.equal(blockedBy(body), 'xss');
});
