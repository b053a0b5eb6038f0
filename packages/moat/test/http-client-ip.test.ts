import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { TrustedProxies } from '../src/http/trusted-proxies.js';
import {
  ClientIpResolver, clientFromHops, clientFromList, forwardedForValues, stripPort, unmapIpv4, type ClientIpTarget, type ForwardingHeader,
} from '../src/http/client-address.js';
import { forwardingHeaderPresent } from '../src/firewall/address-warnings.js';
import { presetHeader, presetRanges, PROXY_PRESETS } from '../src/http/proxy-presets.js';
import { chooseIpHeader } from '../src/firewall/client-address-options.js';

function resolve(trusted: string[], peer: string | undefined, headers: IncomingHttpHeaders, header?: ForwardingHeader): ClientIpTarget {
  const out: ClientIpTarget = { ip: 'unset', ipSource: 'socket' };
  new ClientIpResolver(TrustedProxies.from(trusted), header).resolve(peer, headers, out);
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
  assert.throws(() => TrustedProxies.from(['cloudfare']), /aws-alb/, 'the message lists every preset');
});

test('trusted proxies: platform presets name their header; unix trusts the Unix socket peer', () => {
  assert.equal(presetHeader('cloudflare'), 'cf-connecting-ip');
  assert.equal(presetHeader('fly'), 'fly-client-ip');
  for (const p of ['vercel', 'aws-alb', 'gcp-lb'] as const) assert.equal(presetHeader(p), 'x-forwarded-for');
  for (const p of ['loopback', 'private', 'unix'] as const) assert.equal(presetHeader(p), null);
  const gcp = TrustedProxies.from(['gcp-lb']);
  for (const ip of ['35.191.7.1', '130.211.3.255', '2600:2d00:1:b029::9']) assert.ok(gcp.has(ip), ip);
  for (const ip of ['130.211.4.0', '35.192.0.1', '10.0.0.1']) assert.ok(!gcp.has(ip), ip);
  for (const p of ['fly', 'aws-alb']) {
    const t = TrustedProxies.from([p]);
    assert.ok(t.has('10.0.0.1') && t.has('172.16.0.1') && t.has('fdaa::3'), p);
    assert.ok(!t.has('127.0.0.1') && !t.has('8.8.8.8'), p);
  }
  const vercel = TrustedProxies.from(['vercel']);
  assert.ok(vercel.has('127.0.0.1') && vercel.has('10.0.0.1') && !vercel.has('76.76.21.21'));
  const unix = TrustedProxies.from(['unix']);
  assert.equal(unix.trustsUnixSocket, true);
  assert.equal(unix.isEmpty, true, 'unix trusts no address');
  assert.equal(TrustedProxies.from(['loopback']).trustsUnixSocket, false);
  assert.deepEqual(TrustedProxies.from(['private', 'cloudflare', 'cloudflare']).presetHeaders, [{ preset: 'cloudflare', header: 'cf-connecting-ip' }]);
  for (const p of PROXY_PRESETS) assert.doesNotThrow(() => TrustedProxies.from([p]), p);
});

test('the client-IP header option: one header, chosen explicitly or by the platform preset', () => {
  const none = { presetHeaders: [] };
  assert.deepEqual(chooseIpHeader(none), { header: 'x-forwarded-for', deprecation: null });
  assert.equal(chooseIpHeader({ ...none, ipHeader: 'X-Real-IP' as ForwardingHeader }).header, 'x-real-ip');
  assert.equal(chooseIpHeader({ ...none, fromEnv: 'true-client-ip' }).header, 'true-client-ip');
  assert.equal(chooseIpHeader({ ...none, ipHeader: 'x-real-ip', fromEnv: 'true-client-ip' }).header, 'x-real-ip', 'the option wins');
  const cf = TrustedProxies.from(['private', 'cloudflare']).presetHeaders;
  assert.equal(chooseIpHeader({ presetHeaders: cf }).header, 'cf-connecting-ip');
  assert.equal(chooseIpHeader({ presetHeaders: cf, ipHeader: 'x-forwarded-for' }).header, 'x-forwarded-for');
  const mixed = TrustedProxies.from(['cloudflare', 'fly']).presetHeaders;
  assert.throws(() => chooseIpHeader({ presetHeaders: mixed }), /cloudflare .*cf-connecting-ip.* fly .*fly-client-ip.*set ipHeader/);
  assert.equal(chooseIpHeader({ presetHeaders: mixed, ipHeader: 'fly-client-ip' }).header, 'fly-client-ip');
  // The old list option: one element is accepted with a note, more is an error.
  const old = chooseIpHeader({ ...none, ipHeaders: ['x-real-ip'] });
  assert.equal(old.header, 'x-real-ip');
  assert.match(old.deprecation!, /ipHeaders option is deprecated; write ipHeader: 'x-real-ip'/);
  assert.throws(() => chooseIpHeader({ ...none, ipHeaders: ['x-real-ip', 'x-forwarded-for'] }), /ipHeaders lists 2 headers.*exactly one/);
  assert.throws(() => chooseIpHeader({ ...none, ipHeaders: [] }), /ipHeaders lists 0 headers/);
  assert.throws(() => chooseIpHeader({ ...none, ipHeader: 'x-real-ip', ipHeaders: ['x-forwarded-for'] }), /disagree/);
  assert.throws(() => chooseIpHeader({ ...none, ipHeader: 'x-client-ip' as ForwardingHeader }), /ipHeader "x-client-ip" is not a client-IP header/);
  assert.throws(() => chooseIpHeader({ ...none, fromEnv: 'nope' }), /MOAT_IP_HEADER "nope"/);
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
  assert.deepEqual(resolve(['unix'], undefined, spoofs), { ip: '', ipSource: 'socket' }, 'a Unix socket is the firewall\'s to handle');
});

test('counters: a header from an untrusted peer, a trusted peer without the header', () => {
  const counters = { ipHeaderMissing: 0, ipHeaderUntrusted: 0 };
  const missing: string[] = [];
  const resolver = new ClientIpResolver(TrustedProxies.from(['loopback']), 'x-real-ip', counters, (peer) => missing.push(peer));
  const out: ClientIpTarget = { ip: '', ipSource: 'socket' };
  resolver.resolve('203.0.113.9', { 'x-real-ip': '1.1.1.1' }, out);
  resolver.resolve('203.0.113.9', { 'x-forwarded-for': '1.1.1.1' }, out);
  assert.deepEqual(counters, { ipHeaderMissing: 0, ipHeaderUntrusted: 1 });
  resolver.resolve('127.0.0.1', { 'x-forwarded-for': '1.1.1.1' }, out);
  assert.deepEqual(out, { ip: '127.0.0.1', ipSource: 'proxy' }, 'the proxy\'s own address, marked so no IP allow rule applies');
  resolver.resolve('127.0.0.1', { 'x-real-ip': 'junk' }, out);
  assert.deepEqual(counters, { ipHeaderMissing: 2, ipHeaderUntrusted: 1 });
  assert.deepEqual(missing, ['127.0.0.1', '127.0.0.1']);
  // readHeader: what the firewall asks for a trusted Unix socket.
  assert.equal(resolver.readHeader({ 'x-real-ip': '198.51.100.4' }, out, ''), true);
  assert.deepEqual(out, { ip: '198.51.100.4', ipSource: 'x-real-ip' });
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
  // Garbage at the right end: the header is unusable, and no other header is tried: the peer it is.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '1.2.3.4, junk', 'x-real-ip': '198.51.100.1' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '1.2.3.4,' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': ',,' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  // Sent twice (Node joins the lines in order): the proxy's line is last.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': ['6.6.6.6', '203.0.113.7'] }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  // Ports, brackets and IPv4-mapped forms.
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '203.0.113.7:5555' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '[2001:db8::9]:443' }), { ip: '2001:db8::9', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '10.0.0.2', { 'x-forwarded-for': '2001:db8::9' }), { ip: '2001:db8::9', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '::ffff:10.0.0.2', { 'x-forwarded-for': '::ffff:203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
  assert.deepEqual(resolve(t, '::1', { 'x-forwarded-for': '203.0.113.7' }), { ip: '203.0.113.7', ipSource: 'x-forwarded-for' });
});

test('trusted peer: RFC 7239 Forwarded', () => {
  const t = ['10.0.0.0/8'];
  const f = (headers: IncomingHttpHeaders) => resolve(t, '10.0.0.2', headers, 'forwarded');
  assert.deepEqual(f({ forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }), { ip: '192.0.2.60', ipSource: 'forwarded' });
  assert.deepEqual(f({ forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711"' }), { ip: '2001:db8:cafe::17', ipSource: 'forwarded' });
  assert.deepEqual(f({ forwarded: 'For="198.51.100.17:80";proto=https, for=10.3.3.3' }), { ip: '198.51.100.17', ipSource: 'forwarded' });
  // Obfuscated and unknown identifiers are not addresses: the socket peer it is.
  assert.deepEqual(f({ forwarded: 'for=_hidden' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  assert.deepEqual(f({ forwarded: 'for=unknown' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  // Not the configured header: never read.
  assert.deepEqual(resolve(t, '10.0.0.2', { forwarded: 'for=192.0.2.60' }), { ip: '10.0.0.2', ipSource: 'proxy' });
  // A client's unclosed quote cannot swallow the element the proxy appends after it.
  assert.deepEqual(f({ forwarded: 'for="198.51.100.7, for=203.0.113.66' }), { ip: '203.0.113.66', ipSource: 'forwarded' });
  assert.deepEqual(f({ forwarded: 'for=", for=203.0.113.66' }), { ip: '203.0.113.66', ipSource: 'forwarded' });
  assert.deepEqual(f({ forwarded: 'for="a\\", for="[2001:db8::5]:80"' }), { ip: '2001:db8::5', ipSource: 'forwarded' });
  assert.deepEqual(f({ forwarded: 'for=1.1.1.1;x="unclosed, for=203.0.113.66;proto=https' }), { ip: '203.0.113.66', ipSource: 'forwarded' });
  assert.deepEqual(forwardedForValues('for="198.51.100.7, for=203.0.113.66'), ['198.51.100.7', '203.0.113.66']);
  assert.deepEqual(forwardedForValues('for="a,b;c";proto=http, by=x, for=1.2.3.4'), ['a,b;c', '', '1.2.3.4']);
  assert.deepEqual(forwardedForValues('for="\\"q\\"'), ['"q"']);
  assert.deepEqual(forwardedForValues(''), ['']);
});

test('trusted peer: platform headers, one address each', () => {
  const t = ['loopback'];
  for (const name of ['cf-connecting-ip', 'fly-client-ip', 'true-client-ip', 'x-real-ip'] as const) {
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '198.51.100.23' }, name), { ip: '198.51.100.23', ipSource: name });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '2001:db8::23' }, name), { ip: '2001:db8::23', ipSource: name });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '198.51.100.23:8443' }, name), { ip: '198.51.100.23', ipSource: name });
    // Sent twice (once by the client): ambiguous, not used.
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '6.6.6.6, 198.51.100.23' }, name), { ip: '127.0.0.1', ipSource: 'proxy' });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: ['6.6.6.6', '198.51.100.23'] }, name), { ip: '127.0.0.1', ipSource: 'proxy' });
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: 'nonsense' }, name), { ip: '127.0.0.1', ipSource: 'proxy' });
    // Only the configured header counts: by default that is X-Forwarded-For.
    assert.deepEqual(resolve(t, '127.0.0.1', { [name]: '198.51.100.23' }), { ip: '127.0.0.1', ipSource: 'proxy' });
  }
});

test('one header: X-Forwarded-For by default, the configured one otherwise, never a fallback to another', () => {
  const headers = { 'x-forwarded-for': '203.0.113.1', 'cf-connecting-ip': '203.0.113.2', 'x-real-ip': '203.0.113.3' };
  assert.equal(resolve(['loopback'], '127.0.0.1', headers).ip, '203.0.113.1');
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', headers, 'x-real-ip'), { ip: '203.0.113.3', ipSource: 'x-real-ip' });
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', headers, 'cf-connecting-ip'), { ip: '203.0.113.2', ipSource: 'cf-connecting-ip' });
  assert.deepEqual(resolve(['loopback'], '127.0.0.1', { 'x-forwarded-for': '203.0.113.1' }, 'x-real-ip'), { ip: '127.0.0.1', ipSource: 'proxy' });
});

test('clientFromList walks a comma list from the right like clientFromHops over its split', () => {
  const isAddress = (ip: string) => /^[0-9.]+$|:/.test(ip);
  const isTrusted = (ip: string) => ip.startsWith('10.');
  const lists = ['', ',', ',,', '1.1.1.1', ' 1.1.1.1 ', '1.1.1.1,10.0.0.1', 'a, 10.0.0.1', '10.0.0.2,10.0.0.1', '2.2.2.2, 1.1.1.1,',
    '1.1.1.1:80, 10.0.0.1', ',10.0.0.1', '[::1]:5, 10.9.9.9', 'x,y,z'];
  for (const list of lists) {
    assert.equal(clientFromList(list, isAddress, isTrusted), clientFromHops(list.split(','), isAddress, isTrusted), JSON.stringify(list));
  }
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
