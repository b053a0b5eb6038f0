// The session cookie's Secure flag follows the hub's public URL unless set: a hub published at https://
// never sends its session over plain HTTP because an operator forgot --secure-cookies.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { resolveConfig } from '../src/config.js';

test('secure cookies default to on for an https public URL, off otherwise, and an explicit setting wins', () => {
  const config = (options: { publicUrl?: string; secureCookies?: boolean }) => resolveConfig({ dataDir: '/tmp/moat-hub-config-test', ...options });
  assert.equal(config({ publicUrl: 'https://hub.example.com' }).secureCookies, true);
  assert.equal(config({ publicUrl: 'http://127.0.0.1:8787' }).secureCookies, false);
  assert.equal(config({}).secureCookies, false);
  assert.equal(config({ publicUrl: 'https://hub.example.com', secureCookies: false }).secureCookies, false);
  assert.equal(config({ publicUrl: 'http://hub.internal', secureCookies: true }).secureCookies, true);
});
