// Ed25519 signatures of downloaded files: X-Moat-Signature, base64, over the exact body bytes, and
// X-Moat-Digest-Signature over `moat-file-sha256:<hex SHA-256 of the body>`, which is checked against the
// hash taken as the bytes arrived, so a big file is not read into memory again to be verified.
// The key is given as base64 of the raw 32-byte public key or as an SPKI PEM string.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { OptionError } from '../errors/moat-error.js';

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Parses a public key; throws a clear error for anything that is not an Ed25519 public key. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.includes('-----BEGIN')) {
      key = createPublicKey({ key: trimmed, format: 'pem' });
    } else {
      const raw = Buffer.from(trimmed, 'base64');
      if (raw.length !== 32) throw new OptionError(`expected 32 bytes of raw key, got ${raw.length}`);
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    }
  } catch (error) {
    throw new OptionError(`hub public key is not usable: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new OptionError(`hub public key must be an ed25519 key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

/** True when `signatureBase64` is a valid signature of `body` by `key`. Never throws. */
export function signatureValid(key: KeyObject, body: Buffer, signatureBase64: string | null): boolean {
  if (signatureBase64 === null || signatureBase64 === '') return false;
  try {
    const signature = Buffer.from(signatureBase64.trim(), 'base64');
    if (signature.length !== 64) return false;
    return verify(null, body, key, signature);
  } catch {
    return false;
  }
}

/** True when `signatureBase64` signs the file whose hex SHA-256 is `sha256` (X-Moat-Digest-Signature). Never throws. */
export function digestSignatureValid(key: KeyObject, sha256: string, signatureBase64: string | null): boolean {
  return /^[0-9a-f]{64}$/.test(sha256) && signatureValid(key, Buffer.from(`moat-file-sha256:${sha256}`, 'latin1'), signatureBase64);
}
