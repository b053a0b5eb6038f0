import type { HubStore } from '../store/store.js';
import { HttpError } from '../server/http-error.js';
import { sha256Hex } from './secrets.js';

/** Longest API key accepted; real keys are 48 characters, Wafris-style keys are shorter. */
const MAX_KEY_LENGTH = 200;

/** The site an API key (from a URL) belongs to; 401 when it is unknown, revoked or malformed. */
export async function siteForApiKey(store: HubStore, apiKey: unknown): Promise<{ siteId: number; keyId: number }> {
  if (typeof apiKey !== 'string' || apiKey.length === 0 || apiKey.length > MAX_KEY_LENGTH) {
    throw new HttpError(401, 'invalid API key', 'invalid_api_key');
  }
  const key = await store.findActiveApiKey(sha256Hex(apiKey));
  if (!key) throw new HttpError(401, 'invalid API key', 'invalid_api_key');
  return { siteId: key.siteId, keyId: key.id };
}
