import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 is enough for API keys and session tokens: they are 256-bit random, not guessable passwords. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** API keys look like `moat_<43 chars>`; the prefix makes leaked keys easy to recognise by scanners. */
export const API_KEY_PREFIX = 'moat_';

export function generateApiKey(): { key: string; hash: string; shownPrefix: string } {
  const key = API_KEY_PREFIX + randomToken(32);
  return { key, hash: sha256Hex(key), shownPrefix: key.slice(0, API_KEY_PREFIX.length + 6) };
}
