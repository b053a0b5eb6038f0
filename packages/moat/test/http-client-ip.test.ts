import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { TrustedProxies } from '../src/http/trusted-proxies.js';
import { ClientIpResolver, unmapIpv4, type ClientIpTarget, type ForwardingHeader } from '../src/http/client-ip.js';
import { forwardedForValues } from '../src/http/forwarded-header.js';
import { clientFromHops, stripPort } from '../src/http/forwarding-chain.js';
import { forwardingHeaderPresent } from '../src/http/forwarding-headers-present.js';
import { presetRanges } from '../src/http/proxy-presets.js';

function resolve(trusted: string[], peer: string | undefined, headers: IncomingHttpHeaders, order?: ForwardingHeader[]): ClientIpTarget {
  const out: ClientIpTarget = { ip: 'unset', ipSource: 'socket' };
  new ClientIpResolver(TrustedProxies.from(trusted), order).resolve(peer, headers, out);
  return out;
}

test('trusted proxies: exact ranges, no substring matching, IPv6 and IPv4-mapped peers', () => {
  const t = TrustedProxies.from(['10.0.0.1', '192.168.0.0/16', '2001:db8::/32', ' 203.0.113.5 - 203.0.113.9 ']);
  assert.ok(t.has('10.0.0.1'));
  assert.ok(!t.has('110.0.0.15'), 'Wafris matched 10.0.0.1 inside 110.0.0.15');
  assert.ok(!t.has('10.0.0.10'));
  assert.ok(t.has('192.168.44.1'));
  assert.ok(t.has('::ffff:192.168.44.1'));
  assert.ok(t.has('::FFFF:10.0.0.1'));
  assert.ok(t.has('2001:DB8:0:0::1'));
  assert.ok(t.has('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'));
  assert.ok(!t.has('2001:db9::'));
  assert.ok(t.has('203.0.113.7'));
  assert.ok(!t.has('203.0.113.10'));
  assert.ok(!t.has('not an ip'));
  assert.ok(!t.has(''));
  assert.equal(TrustedProxies.from([]).isEmpty, true);
});

test('trusted proxies: presets', () => {
  const loopback = TrustedProxies.from(['loopback']);
  assert.ok(loopback.has('127.0.0.1') && loopback.has('127.255.0.9') && loopback.has('::1') && loopback.has('::ffff:127.0.0.1'));
  assert.ok(!loopback.has('128.0.0.1') && !loopback.has('::2'));
  const priv = TrustedProxies.from(['private']);
  for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', 'fd00::1', 'fc00::1']) assert.ok(priv.has(ip), ip);
  for (const ip of ['172.32.0.1', '8.8.8.8', '2001:4860::1', '127.0.0.1']) assert.ok(!priv.has(ip), ip);
  const cf = TrustedProxies.from(['cloudflare']);
  assert.ok(presetRanges('cloudflare').length >= 20);
  for (const ip of ['173.245.48.1', '104.16.0.1', '172.64.1.1', '162.159.0.1', '2606:4700::6810:84e5', '2a06:98c7:ffff::1']) assert.ok(cf.has(ip), ip);
  for (const ip of ['1.1.1.1', '8.8.8.8', '2a06:98d0::1', '127.0.0.1']) assert.ok(!cf.has(ip), ip);
});

test('trusted proxies: a bad entry is a clear error naming it', () => {
  assert.throws(() => TrustedProxies.from(['10.0.0.0/8', '10.0.0.256']), /trusted proxy "10\.0\.0\.256"/);
  assert.throws(() => TrustedProxies.from(['cloudfare']), /preset/);
});

test('untrusted peer: every forwarding header is ignored', () => {
  const spoofs: IncomingHttpHeaders = {
    'x-forwarded-for': '1.1.1.1', forwarded: 'for=1.1.1.2', 'cf-connecting-ip': '1.1.1.3', 'fly-client-ip': '1.1.1.4',
    'true-client-ip': '1.1.1.5', 'x-real-ip': '1.1.1.6',
  };
  assert.deepEqual(resolve([], '203.0.113.9', spoofs), { ip: '203.0.113.9', ipSource: 'socket' });
  assert.deepEqual(resolve(['10.0.0.0/8'], '203.0.113.9', spoofs), { ip: '203.0.113.9', ipSource: 'socket' });
  assert.deepEqual(resolve(['10.0.0.0/8'], '::ffff:203.0.113.9', spoofs), { ip: '203.0.113.9', ipSource: 'socket' });
  assert.deepEqual(resolve(['10.0.0.0/8'], '2001:db8::7', spoofs), { ip: '2001:db8::7', ipSource: 'socket' });
  assert.deepEqual(resolve(['10.0.0.0/8'], undefined, spoofs), { ip: '', ipSource: 'socket' });
});

test('trusted peer: X-Forwarded-For read right to left, skipping trusted hops', () => {
  const t = ['10.0.0.0/8', 'loopback'];
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  // The client prepended a lie; the proxy appended the truth.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  // Two trusted hops are skipped.
  assert.deepEqual(resolve(t, '127.0.0.1', { 'x-forwarded-for': '6.6.6.6,203.0.113.7 , 10.1.1.1,10.2.2.2' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  // All trusted: the leftmost.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.1.1.1' }), { ip: '10.9.9.9', ipSource: 'x-forwarded-for' });
  // Garbage left of a trusted hop ends the walk at the last good hop.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': 'garbage, 10.1.1.1' }), { ip: '10.1.1.1', ipSource: 'x-forwarded-for' });
  // Garbage at the right end: the header is unusable, the next source is tried.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '1.2.3.4, junk', 'x-real-ip': '198.51.100.1' }), { ip: '198.51.100.1', ipSource: 'x-real-ip' });
  // Ports, brackets and IPv4-mapped forms.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '203.0.113.7:5555' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '[2001:db8::9]:443' }), { ip: '2001:db8::9', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '2001:db8::9' }), { ip: '2001:db8::9', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '::ffff:10.0.0.2', { 'x-forwarded-for': '::ffff:203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '::1', { 'x-forwarded-for': '203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
});

test('trusted peer: RFC 7239 Forwarded', () => {
  const t = ['10.0.0.0/8'];
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }), { ip: '192.0.2.60', ipSource: 'forwarded' });
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711"' }), { ip: '2001:db8:cafe::17', ipSource: 'forwarded' });
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'For="198.51.100.17:80";proto=https, for=10.3.3.3' }), { ip: '198.51.100.17', ipSource: 'forwarded' });
  // Obfuscated and unknown identifiers are not addresses: the socket peer it is.
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'for=_hidden' }), { ip: '10.0.0.2', ipSource: 'socket' });
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'for=unknown' }), { ip: '10.0.0.2', ipSource: 'socket' });
  assert.deepEqual(forwardedForValues('for="a,b;c";proto=http, by=x, for=1.2.3.4'), ['a,b;c', '', '1.2.3.4']);
  assert.deepEqual(forwardedForValues('for="\\"q\\"'), ['"q"']);
  assert.deepEqual(forwardedForValues(''), ['']);
});

test('trusted peer: platform headers, one address each', () => {
  const t = ['loopback'];
  for (const name of ['cf-connecting-ip', 'fly-client-ip', 'true-client-ip', 'x-real-ip'] as const) {
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '198.51.100.23' }), { ip: '198.51.100.23', ipSource: name });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '2001:db8::23' }), { ip: '2001:db8::23', ipSource: name });
    // Sent twice (once by the client): ambiguous, not used.
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '6.6.6.6, 198.51.100.23' }), { ip: '127.0.0.1', ipSource: 'socket' });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: 'nonsense' }), { ip: '127.0.0.1', ipSource: 'socket' });
  }
});

test('header order: X-Forwarded-For first by default; pinned to one header when configured', () => {
  const headers = { 'x-forwarded-for': '203.0.113.1', 'cf-connecting-ip': '203.0.113.2', 'x-real-ip': '203.0.113.3' };
  assert.equal(resolve(['loopback'], '127.0.0.1', headers).ip, '203.0.113.1');
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', headers, ['x-real-ip']), { ip: '203.0.113.3', ipSource: 'x-real-ip' });
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', headers, ['cf-connecting-ip', 'x-forwarded-for']), { ip: '203.0.113.2', ipSource: 'cf-connecting-ip' });
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', { 'x-forwarded-for': '203.0.113.1' }, ['x-real-ip']), { ip: '127.0.0.1', ipSource: 'socket' });
});

test('helpers: ports, mapped addresses, header presence', () => {
  assert.equal(stripPort(' 1.2.3.4:80 '), '1.2.3.4');
  assert.equal(stripPort('[::1]'), '::1');
  assert.equal(stripPort('[::1'), '[::1');
  assert.equal(stripPort('::1'), '::1');
  assert.equal(unmapIpv4('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(unmapIpv4('::FFFF:1.2.3.4'), '1.2.3.4');
  assert.equal(unmapIpv4('::ffff:102:304'), '::ffff:102:304');
  assert.equal(unmapIpv4('2001:db8::1'), '2001:db8::1');
  assert.equal(clientFromHops([], () => true, () => true), null);
  assert.equal(forwardingHeaderPresent({ host: 'x' }), null);
  assert.equal(forwardingHeaderPresent({ 'x-real-ip': '1.2.3.4' }), 'x-real-ip');
});
