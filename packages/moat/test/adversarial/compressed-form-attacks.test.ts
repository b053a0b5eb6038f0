// A compressed form is judged inflated and as sent (apps on Bun, Deno, Fastify and Hono read it as sent).
// As sent, its compressed data is binary noise: read as form fields it looked like attacks to the
// detectors in 10 of the corpus's 2,354 benign inputs. Attack detection reads each field of the raw
// stream only up to its first byte that is not text, so that noise adds no false positive, while text an
// attacker puts in the stream (a gzip header's comment, bytes after the gzip member) is still examined. Real engine, real bodies through BodyReading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Engine } from '../../src/engine/engine.js';
import { BodyReading } from '../../src/firewall/body-reading.js';
import { emptyStats } from '../../src/firewall/stats.js';
import type { MoatHttpRequest } from '../../src/http/normalized-request.js';
import { parseRulesSource } from '../../src/rules/document.js';
import { writeRulesFile } from '../../src/format/write-rules.js';
import { withTmpDir } from '../helpers/engine-kit.js';

const BENIGN = readFileSync(new URL('../fixtures/attacks/benign.txt', import.meta.url), 'utf8').split('\n').filter(Boolean);
const PACK = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;

async function verdict(engine: Engine, bodies: BodyReading, bytes: Buffer, coding: keyof typeof PACK | 'identity'): Promise<string> {
  const request = { ip: '203.0.113.5', ipSource: 'socket', method: 'POST', path: '/form', url: '/form', host: 'example.test', headers: {} } as unknown as MoatHttpRequest;
  await bodies.addTo(request, Promise.resolve({ bytes, complete: true }), { kind: 'form', coding, charset: 'utf-8' }, engine);
  const d = engine.evaluate(request);
  return d.treatment === 'Blocked' ? d.category : 'passed';
}

test('benign forms, compressed three ways: no block beyond what the same form uncompressed gets; a gzip comment holding an injection is blocked', async () => {
  await withTmpDir(async (dir) => {
    const { rules, attacks, bots } = parseRulesSource('attacks: block\n');
    const path = `${dir}/rules.moat`;
    writeRulesFile(rules, path, { attacks, bots });
    const engine = Engine.open({ rules: path });
    try {
      const bodies = new BodyReading(undefined, emptyStats());
      const extra: string[] = [];
      for (let i = 0; i < BENIGN.length; i++) {
        const form = Buffer.from(`name=x&comment=${encodeURIComponent(BENIGN[i]!)}&n=${i}`);
        const plain = await verdict(engine, bodies, form, 'identity');
        for (const [coding, pack] of Object.entries(PACK) as [keyof typeof PACK, (b: Buffer) => Buffer][]) {
          const packed = await verdict(engine, bodies, pack(form), coding);
          if (packed !== plain) extra.push(`${coding} #${i} ${BENIGN[i]!.slice(0, 40)}: ${packed}`);
        }
      }
      assert.deepEqual(extra, [], 'compression changed no benign decision');

      // gzip with FCOMMENT: harmless inflated, an injection to an app that reads the stream as sent.
      const clean = gzipSync('name=x');
      const commented = Buffer.concat([clean.subarray(0, 3), Buffer.from([clean[3]! | 0x10]), clean.subarray(4, 10),
        Buffer.from("&id=1' UNION SELECT password FROM users--&\0", 'latin1'), clean.subarray(10)]);
      assert.equal(await verdict(engine, bodies, commented, 'gzip'), 'attack-sqli');
      // The same with no `&` to close the field: the app's value runs on into the header's NUL and the
      // compressed data (`1' UNION …--\0<binary>`), and the text before the NUL is still the injection.
      const unclosed = Buffer.concat([clean.subarray(0, 3), Buffer.from([clean[3]! | 0x10]), clean.subarray(4, 10),
        Buffer.from("&id=1' UNION SELECT password FROM users--\0", 'latin1'), clean.subarray(10)]);
      assert.equal(await verdict(engine, bodies, unclosed, 'gzip'), 'attack-sqli');
      // After the gzip member: a field that ends in a control byte, and one with invalid UTF-8 after its text.
      const trailing = Buffer.concat([gzipSync('a=b'), Buffer.from('&q=<script>alert(1)</script>\x01', 'latin1')]);
      assert.equal(await verdict(engine, bodies, trailing, 'gzip'), 'attack-xss');
      const invalid = Buffer.concat([gzipSync('a=b'), Buffer.from('&q=<script>alert(1)</script>\xff\xfe', 'latin1')]);
      assert.equal(await verdict(engine, bodies, invalid, 'gzip'), 'attack-xss');
    } finally {
      engine.close();
    }
  });
});
