// The feed fetcher's address check on its own: IPv4 addresses written inside IPv6 in hex form (as URL
// parsing and some resolvers write them) are judged non-public like the dotted forms.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isPublicAddress } from '../src/feeds/address-policy.js';

describe('feed address policy', () => {
  for (const address of [
    '::ffff:7f00:1', // IPv4-mapped 127.0.0.1
    '::ffff:a9fe:a9fe', // IPv4-mapped 169.254.169.254 (cloud metadata)
    '::7f00:1', // IPv4-compatible 127.0.0.1
    '::a00:1', // IPv4-compatible 10.0.0.1
    '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
    '::ffff:0:a9fe:a9fe', // IPv4-translated 169.254.169.254
  ]) {
    it(`${address} is not public`, () => assert.equal(isPublicAddress(address), false));
  }

  it('public addresses stay public, mapped forms judged by their IPv4', () => {
    for (const address of ['2606:4700:4700::1111', '8.8.8.8', '1.1.1.1', '::ffff:8.8.8.8', '::ffff:808:808']) assert.equal(isPublicAddress(address), true, address);
    assert.equal(isPublicAddress('::ffff:127.0.0.1'), false);
  });
});
