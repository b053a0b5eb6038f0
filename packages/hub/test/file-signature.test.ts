// The two signatures of a served file, signed on the calling thread (small files) and in a worker (big
// ones): X-Moat-Signature over the bytes, and X-Moat-Digest-Signature over `moat-file-sha256:<hex>`,
// which a client checks against the SHA-256 it took while downloading. Real files, real keys.
import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestMessage, INLINE_SIGN_MAX_BYTES, signOpenFile } from '../src/signing/file-signature.js';

test('a file signed inline and one signed in the worker carry both signatures, each verifying only its own bytes', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const dir = mkdtempSync(join(tmpdir(), 'moat-sign-'));
  try {
    for (const size of [1000, INLINE_SIGN_MAX_BYTES + 4096]) {
      const bytes = Buffer.alloc(size, 7);
      bytes.write('SQLite format 3\0');
      const path = join(dir, `f-${size}.db`);
      writeFileSync(path, bytes);
      const handle = await open(path, 'r');
      try {
        const signed = await signOpenFile(privateKey, handle, size);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        assert.equal(signed.sha256, sha256);
        assert.ok(verify(null, bytes, publicKey, Buffer.from(signed.signature, 'base64')), `${size}: the bytes`);
        assert.ok(verify(null, digestMessage(sha256), publicKey, Buffer.from(signed.digestSignature, 'base64')), `${size}: the digest`);
        assert.equal(digestMessage(sha256).toString('latin1'), `moat-file-sha256:${sha256}`);
        const other = createHash('sha256').update(Buffer.concat([bytes, Buffer.from('x')])).digest('hex');
        assert.equal(verify(null, digestMessage(other), publicKey, Buffer.from(signed.digestSignature, 'base64')), false);
      } finally {
        await handle.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
