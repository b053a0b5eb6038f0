import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { signOpenFile, type FileSignature } from './file-signature.js';

/**
 * The hub's ed25519 key for managed mode: each downsync 200 carries `X-Moat-Signature`, the base64
 * ed25519 signature over the exact body bytes, so clients can refuse files a third party altered.
 * The private key lives in the data dir (PKCS#8 PEM, mode 0600), created on first start.
 */
export interface SigningKey {
  /** Raw 32-byte public key, base64 (what clients pin). */
  publicKeyBase64: string;
  /** The same key as SPKI PEM. */
  publicKeyPem: string;
  /** Base64 signature over `bytes`. */
  sign(bytes: Uint8Array): string;
  /** Hashes and signs the first `size` bytes of an open file (big files in a worker). */
  signFile(handle: FileHandle, size: number): Promise<FileSignature>;
}

export function loadOrCreateSigningKey(file: string): SigningKey {
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an ed25519 private key`);
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    mkdirSync(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, file);
  }
  return signingKeyFrom(privateKey);
}

export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  // An ed25519 SPKI DER is a fixed 12-byte header followed by the raw 32-byte key.
  const raw = spkiDer.subarray(spkiDer.length - 32);
  return {
    publicKeyBase64: raw.toString('base64'),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (bytes) => sign(null, bytes, privateKey).toString('base64'),
    signFile: (handle, size) => signOpenFile(privateKey, handle, size),
  };
}
