/**
 * The behaviour every HubStore must have, written once and run against each implementation
 * (store-contract-sqlite.test.ts, postgres-store.test.ts). Each test opens a fresh, empty store.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Rule } from 'moat-waf';
import { ruleFilter } from '../../src/rules/rule-filter.js';
import { coverageLookup, ruleCoverage, rulesForIp } from '../../src/ui/rule-coverage.js';
import { CONTACTS_PER_SITE, type HubStore, type ReportRecord, type StoredRule } from '../../src/store/store.js';

export type OpenStore = () => Promise<{ store: HubStore; dispose(): Promise<void> }>;

const HOUR = 3600;
/** A fixed hour start, far from "now", so retention tests control every age. */
const BASE = 1_700_002_800;

export function report(overrides: Partial<ReportRecord> = {}): ReportRecord {
  return {
    ts: BASE, ip: '203.0.113.1', method: 'GET', host: 'example.test', path: '/', parameter: '', userAgent: 'ua/1',
    requestId: 'r', treatment: 'Passed', category: 'passed', rule: '-', ruleId: null, monitored: null, ipSource: null,
    country: null, ...overrides,
  };
}

async function withStore(open: OpenStore, task: (store: HubStore) => Promise<void>): Promise<void> {
  const { store, dispose } = await open();
  try {
    await task(store);
  } finally {
    await dispose();
  }
}

async function rollUpAll(store: HubStore): Promise<number> {
  let total = 0;
  for (let i = 0; i < 100; i++) {
    const n = await store.rollUp();
    if (n === 0) return total;
    total += n;
  }
  throw new Error('rollUp did not finish within 100 chunks');
}

export function storeContract(label: string, open: OpenStore): void {
  describe(`HubStore contract: ${label}`, () => {
    it('users: case-insensitive e-mail, unique, password change', async () => {
      await withStore(open, async (store) => {
        assert.equal(await store.countUsers(), 0);
        const user = await store.createUser('Admin@Example.test', 'hash1', true);
        assert.equal(user.mustChangePassword, true);
        assert.equal(await store.countUsers(), 1);
        const found = await store.findUserByEmail('admin@example.TEST');
        assert.equal(found?.id, user.id);
        assert.equal(found?.passwordHash, 'hash1');
        await assert.rejects(store.createUser('admin@example.test', 'hash2', false));
        await store.setUserPassword(user.id, 'hash3', false);
        const changed = await store.getUserWithSecret(user.id);
        assert.equal(changed?.passwordHash, 'hash3');
        assert.equal(changed?.mustChangePassword, false);
        assert.equal(await store.getUserWithSecret(user.id + 1000), undefined);
      });
    });

    it('sessions: found until expiry, deleted one by one or per user', async () => {
      await withStore(open, async (store) => {
        const user = await store.createUser('a@b.test', 'h', false);
        await store.createSession('t1', user.id, 'csrf1', 2000);
        await store.createSession('t2', user.id, 'csrf2', 2000);
        const session = await store.findSession('t1', 1000);
        assert.deepEqual(session, {
          userId: user.id, email: 'a@b.test', mustChangePassword: false, csrfToken: 'csrf1', expiresAt: 2000, role: 'admin', siteIds: [],
        });
        assert.equal(await store.findSession('t1', 2000), undefined, 'expired at expiresAt');
        await store.deleteSession('t1');
        assert.equal(await store.findSession('t1', 1000), undefined);
        assert.ok(await store.findSession('t2', 1000));
        await store.deleteUserSessions(user.id);
        assert.equal(await store.findSession('t2', 1000), undefined);
      });
    });

    it('users: roles and granted sites, seen by sessions at once; unknown sites are not granted', async () => {
      await withStore(open, async (store) => {
        const a = await store.createSite('a');
        const b = await store.createSite('b');
        const admin = await store.createUser('admin@x.test', 'h', false);
        assert.deepEqual([admin.role, admin.siteIds], ['admin', []], 'without access a user is an admin (the first user)');
        const viewer = await store.createUser('viewer@x.test', 'h', true, { role: 'viewer', siteIds: [b.id, a.id, b.id, 999_999] });
        assert.deepEqual([viewer.role, (await store.getUserWithSecret(viewer.id))?.siteIds], ['viewer', [a.id, b.id]]);
        await store.createSession('tv', viewer.id, 'c', 2000);
        assert.deepEqual((await store.findSession('tv', 1000))?.siteIds, [a.id, b.id]);
        assert.equal((await store.findSession('tv', 1000))?.role, 'viewer');
        assert.equal(await store.setUserAccess(viewer.id, { role: 'viewer', siteIds: [b.id] }), 'done');
        assert.deepEqual((await store.findSession('tv', 1000))?.siteIds, [b.id], 'a live session sees the change');
        assert.equal(await store.setUserAccess(viewer.id, { role: 'admin', siteIds: [a.id] }), 'done');
        const promoted = await store.findUserByEmail('VIEWER@x.test');
        assert.deepEqual([promoted?.role, promoted?.siteIds], ['admin', []], 'admins hold no grants: they see every site');
        const listed = await store.listUsers();
        assert.deepEqual(listed.map((u) => u.email), ['admin@x.test', 'viewer@x.test']);
        assert.ok(listed.every((u) => !('passwordHash' in u)), 'listUsers carries no password hashes');
        assert.equal(await store.setUserAccess(viewer.id + 1000, { role: 'viewer', siteIds: [] }), 'not_found');
      });
    });

    it('users: the last admin can be neither demoted nor removed; removing a user ends their sessions', async () => {
      await withStore(open, async (store) => {
        const first = await store.createUser('one@x.test', 'h', false);
        const second = await store.createUser('two@x.test', 'h', false);
        await store.createSession('t2', second.id, 'c', 2000);
        assert.equal(await store.deleteUser(second.id), 'done');
        assert.equal(await store.findSession('t2', 1000), undefined, 'the removed user\'s session is gone');
        assert.equal(await store.getUserWithSecret(second.id), undefined);
        assert.equal(await store.deleteUser(second.id), 'not_found');
        assert.equal(await store.setUserAccess(first.id, { role: 'viewer', siteIds: [] }), 'last_admin');
        assert.equal(await store.deleteUser(first.id), 'last_admin');
        assert.equal((await store.getUserWithSecret(first.id))?.role, 'admin', 'a refused change changes nothing');
        // Two admins demoting each other at once: one change wins, one admin is always left.
        const third = await store.createUser('three@x.test', 'h', false);
        const results = await Promise.all([
          store.setUserAccess(first.id, { role: 'viewer', siteIds: [] }),
          store.setUserAccess(third.id, { role: 'viewer', siteIds: [] }),
        ]);
        assert.deepEqual(results.sort(), ['done', 'last_admin']);
        assert.equal((await store.listUsers()).filter((u) => u.role === 'admin').length, 1);
      });
    });

    it('audit log: appended, listed newest first in pages, by site; retention prunes old entries', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const entry = (at: number, action: string, siteId: number | null) => ({
          at, userId: 1, userEmail: 'admin@x.test', ip: '127.0.0.1', action, siteId, target: 'r1', before: null, after: '{"mode":"block"}',
        });
        for (let i = 0; i < 5; i++) await store.appendAudit(entry(BASE + i, 'rule.create', site.id));
        await store.appendAudit(entry(BASE + 5, 'user.invite', null));
        const first = await store.listAudit({ limit: 4 });
        assert.deepEqual(first.entries.map((e) => e.at), [BASE + 5, BASE + 4, BASE + 3, BASE + 2]);
        assert.deepEqual({ ...first.entries[0], id: 0 }, { ...entry(BASE + 5, 'user.invite', null), id: 0 });
        const second = await store.listAudit({ limit: 4, before: first.next! });
        assert.deepEqual(second.entries.map((e) => e.at), [BASE + 1, BASE]);
        assert.equal(second.next, null);
        const bySite = await store.listAudit({ siteId: site.id, limit: 10 });
        assert.equal(bySite.entries.length, 5);
        assert.ok(bySite.entries.every((e) => e.siteId === site.id));
        const day = 86_400;
        await store.prune({ rawSeconds: day, rollupSeconds: 10 * day }, BASE + 3 + 10 * day);
        assert.deepEqual((await store.listAudit({ limit: 10 })).entries.map((e) => e.at), [BASE + 5, BASE + 4, BASE + 3]);
      });
    });

    it('sites and API keys: create, list, find active, touch at most once a minute, revoke', async () => {
      await withStore(open, async (store) => {
        const a = await store.createSite('a');
        const b = await store.createSite('b');
        assert.deepEqual((await store.listSites()).map((s) => s.name), ['a', 'b']);
        assert.equal((await store.getSite(b.id))?.name, 'b');
        const key = await store.createApiKey(a.id, 'web', 'keyhash', 'moat_abc');
        assert.deepEqual(await store.findActiveApiKey('keyhash'), { id: key.id, siteId: a.id });
        await store.touchApiKey(key.id, 10_000);
        await store.touchApiKey(key.id, 10_030);
        assert.equal((await store.listApiKeys(a.id))[0]?.lastUsedAt, 10_000, 'second touch within a minute is skipped');
        await store.touchApiKey(key.id, 10_061);
        assert.equal((await store.listApiKeys(a.id))[0]?.lastUsedAt, 10_061);
        assert.equal(await store.revokeApiKey(b.id, key.id, 11_000), false, 'another site cannot revoke it');
        assert.equal(await store.revokeApiKey(a.id, key.id, 11_000), true);
        assert.equal(await store.revokeApiKey(a.id, key.id, 11_001), false);
        assert.equal(await store.findActiveApiKey('keyhash'), undefined);
        assert.equal((await store.listApiKeys(a.id))[0]?.revokedAt, 11_000);
      });
    });

    it('rules: append in order, replace, update, delete; every field round-trips', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const rules: Rule[] = [
          { id: 'b', action: 'block', kind: 'ip', value: '198.51.100.0/24', mode: 'block', note: 'net' },
          { id: 'a', action: 'allow', kind: 'path', value: '/ok', mode: 'monitor', expires: 4_102_444_800_000 },
          { id: 'rl', action: 'block', kind: 'rateLimit', value: 'POST /login', mode: 'block',
            rateLimit: { method: 'POST', path: '/login', match: 'exact', limit: 5, windowMs: 60_000 } },
        ];
        await store.saveRules(site.id, rules.slice(0, 2), { replace: false, now: 100 });
        await store.saveRules(site.id, rules.slice(2), { replace: false, now: 200 });
        const listed = await store.listRules(site.id);
        assert.deepEqual(listed.map((r) => r.id), ['b', 'a', 'rl']);
        assert.deepEqual(listed[2]!.rateLimit, rules[2]!.rateLimit);
        assert.equal(listed[0]!.note, 'net');
        assert.equal(listed[1]!.expires, 4_102_444_800_000);
        assert.equal(listed[2]!.createdAt, 200);
        // Pages and searches, in list order (position, then id), without reading the whole list.
        const ids = (page: { rules: StoredRule[] }) => page.rules.map((r) => r.id);
        const first = await store.rulesPage(site.id, {}, { offset: 0 }, 2);
        assert.deepEqual(ids(first), ['b', 'a']);
        assert.equal(first.next?.id, 'a', 'a full page with more to come ends at its last rule');
        assert.deepEqual(ids(await store.rulesPage(site.id, {}, { offset: 2 }, 2)), ['rl']);
        assert.deepEqual(ids(await store.rulesPage(site.id, {}, { offset: 3 }, 2)), []);
        const after = await store.rulesPage(site.id, {}, { after: first.next! }, 2);
        assert.deepEqual([ids(after), after.next], [['rl'], null], 'from the key on; the last page has no next');
        assert.equal((await store.rulesPage(site.id, {}, { offset: 1 }, 2)).next, null, 'a full page that is the last has no next');
        const byValue = { search: 'o', kinds: [] };
        assert.deepEqual([ids(await store.rulesPage(site.id, byValue, { offset: 0 }, 10)), await store.countRules(site.id, byValue)], [['a', 'rl'], 2], 'in values');
        const valuePage = await store.rulesPage(site.id, byValue, { offset: 0 }, 1);
        assert.deepEqual(ids(await store.rulesPage(site.id, byValue, { after: valuePage.next! }, 1)), ['rl'], 'keyset pages among the matching');
        const byNote = { search: 'ne' };
        assert.deepEqual(ids(await store.rulesPage(site.id, byNote, { offset: 0 }, 10)), ['b'], 'in notes');
        const byKind = { search: 'zzz', kinds: ['path', 'rateLimit'] };
        assert.deepEqual(ids(await store.rulesPage(site.id, byKind, { offset: 0 }, 10)), ['a', 'rl'], 'by kind');
        assert.deepEqual(ids(await store.rulesPage(site.id, { search: 'post /l' }, { offset: 0 }, 10)), ['rl'], 'case aside (values are compared lower-cased)');
        assert.deepEqual(ids(await store.rulesPage(site.id, { search: '%' }, { offset: 0 }, 10)), [], 'no wildcards');
        assert.equal(await store.countRules(site.id, { search: 'nothing' }), 0);
        assert.deepEqual(await Promise.all(['b', 'a', 'rl', 'nope'].map((id) => store.ruleIndex(site.id, id, {}))), [0, 1, 2, -1]);
        assert.deepEqual(await Promise.all(['b', 'a', 'rl'].map((id) => store.ruleIndex(site.id, id, byValue))), [-1, 0, 1], 'among the matching');
        assert.equal(await store.updateRule(site.id, { ...rules[0]!, mode: 'monitor', note: undefined }, 300), true);
        const updated = await store.getRule(site.id, 'b');
        assert.equal(updated?.mode, 'monitor');
        assert.equal(updated?.note, undefined);
        assert.equal(updated?.updatedAt, 300);
        assert.equal(await store.updateRule(site.id, { ...rules[0]!, id: 'nope' }, 300), false);
        await assert.rejects(store.saveRules(site.id, [rules[0]!], { replace: false, now: 400 }), 'duplicate id');
        assert.equal((await store.listRules(site.id)).length, 3, 'the failed save changed nothing');
        assert.equal(await store.countRules(site.id), 3);
        assert.deepEqual((await store.ruleIds(site.id)).sort(), ['a', 'b', 'rl']);
        // Only 'a' expires (at 4_102_444_800_000): after the start, at or before the end.
        assert.deepEqual((await store.rulesExpiredBetween(site.id, 4_102_444_799_999, 4_102_444_800_000)).map((r) => r.id), ['a']);
        assert.deepEqual(await store.rulesExpiredBetween(site.id, 4_102_444_800_000, 4_102_444_900_000), [], 'the start is excluded');
        assert.deepEqual(await store.rulesExpiredBetween(site.id, 0, 4_102_444_799_999), [], 'the end is included, nothing before');
        const other = await store.createSite('other');
        assert.equal(await store.countRules(other.id), 0, 'counted per site');
        await store.saveRules(other.id, [
          { id: 'al', action: 'allow', kind: 'ip', value: '203.0.113.0/24', mode: 'block', expires: 4_102_444_800_000 },
          { id: 'al2', action: 'allow', kind: 'ip', value: '2001:db8::/32', mode: 'block' },
          { id: 'alm', action: 'allow', kind: 'ip', value: '192.0.2.1', mode: 'monitor' },
          { id: 'ap', action: 'allow', kind: 'path', value: '/health', mode: 'block' },
          { id: 'bl', action: 'block', kind: 'ip', value: '198.51.100.1', mode: 'block' },
        ], { replace: false, now: 100 });
        assert.deepEqual((await store.allowIpRules(other.id)).sort((x, y) => x.value.localeCompare(y.value)),
          [{ value: '2001:db8::/32' }, { value: '203.0.113.0/24', expires: 4_102_444_800_000 }], 'blocking-mode allow rules on addresses only');
        assert.deepEqual(await store.allowIpRules(site.id), [], 'per site');
        assert.equal(await store.deleteRule(site.id, 'a'), true);
        assert.equal(await store.countRules(site.id), 2);
        assert.equal(await store.deleteRule(site.id, 'a'), false);
        await store.saveRules(site.id, [rules[1]!], { replace: true, now: 500 });
        assert.deepEqual((await store.listRules(site.id)).map((r) => r.id), ['a']);
      });
    });

    it('rules search: case folded as JavaScript\'s toLowerCase for any text, written and changed, whatever the database\'s locale', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const rule = (id: string, value: string, note?: string): Rule => ({ id, action: 'block', kind: 'path', value, mode: 'block', ...(note ? { note } : {}) });
        await store.saveRules(site.id, [
          rule('e1', '/écoles'), rule('e2', '/x', 'ÉCOLE primaire'), rule('g1', '/ΟΔΟΣ-1'), rule('s1', '/straße'), rule('s2', '/STRASSE'), rule('i1', '/İzmir'),
        ], { replace: false, now: 100 });
        const found = async (q: string) => {
          const filter = ruleFilter(q);
          const page = (await store.rulesPage(site.id, filter, { offset: 0 }, 50)).rules.map((r) => r.id);
          assert.equal(await store.countRules(site.id, filter), page.length, `counted as listed: ${q}`);
          return page;
        };
        assert.deepEqual(await found('ÉCOLE'), ['e1', 'e2'], 'accented capitals, in values and notes');
        assert.deepEqual(await found('école'), ['e1', 'e2']);
        assert.deepEqual(await found('ΟΔΟΣ'), ['g1'], 'a final sigma folds to ς, as JavaScript folds it');
        assert.deepEqual(await found('οδος'), ['g1']);
        assert.deepEqual(await found('STRASSE'), ['s2'], 'no ß → ss');
        assert.deepEqual(await found('straße'), ['s1']);
        assert.deepEqual(await found('İzmir'), ['i1'], 'İ folds to i and a combining dot');
        assert.deepEqual(await found('ecole'), [], 'no accent folding');
        assert.equal(await store.updateRule(site.id, rule('e2', '/x', 'Οδος 2'), 200), true);
        assert.deepEqual([await found('ÉCOLE'), await found('ΟΔΟΣ')], [['e1'], ['e2', 'g1']], 'a changed note is searched as changed');
        assert.equal(await store.updateRule(site.id, rule('e2', '/x', 'ΟΔΟΣ 2'), 300), true);
        assert.deepEqual(await found('οδος'), ['e2', 'g1'], 'a change of case only keeps the rule found');
      });
    });

    it('rulesFor: the rules that may cover a page\'s values, in list order; coverage answers as with every rule', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const other = await store.createSite('other');
        const now = 1_700_000_000_000;
        const block = (id: string, kind: Rule['kind'], value: string, extra: Partial<Rule> = {}) =>
          ({ id, action: 'block', kind, value, mode: 'block', ...extra }) as Rule;
        const rules: Rule[] = [
          block('ip-exact', 'ip', '203.0.113.7'),
          block('ip-net', 'ip', '203.0.113.0/24', { mode: 'monitor' }),
          { ...block('ip-range', 'ip', '198.51.100.10-198.51.100.20'), action: 'allow' } as Rule,
          block('ip-v6', 'ip', '2001:db8::/32'),
          block('ip-mapped', 'ip', '::ffff:192.0.2.1'),
          block('ip-expired', 'ip', '10.0.0.0/8', { expires: now - 1 }),
          block('country', 'country', 'DE'),
          block('asn', 'asn', 'AS64500'),
          block('list', 'list', 'tor'),
          block('path', 'path', '/wp-admin'),
          block('path-case', 'path', '/WP-LOGIN'),
          block('path-accent', 'path', '/ÉCOLE'),
          block('ua', 'userAgent', 'nikto'),
          block('ua-kelvin', 'userAgent', '\u212Aelvin'),
          block('rl', 'rateLimit', 'POST /login', { rateLimit: { method: 'POST', path: '/login', match: 'exact', limit: 5, windowMs: 60_000 } }),
          // Rules of these kinds that cover none of the values below.
          ...Array.from({ length: 200 }, (_, i) => block(`filler-${i}`, i % 3 === 0 ? 'ip' : i % 3 === 1 ? 'path' : 'userAgent',
            i % 3 === 0 ? `192.0.2.${i}` : `/filler/${i}`)),
        ];
        await store.saveRules(site.id, rules.slice(100), { replace: false, now: 1 });
        await store.saveRules(site.id, rules.slice(0, 100), { replace: false, now: 2 });
        await store.saveRules(other.id, [block('elsewhere', 'path', '/wp-admin')], { replace: false, now: 1 });
        const all = await store.listRules(site.id);

        const shown = [
          { kind: 'ip' as const, value: '203.0.113.7' }, { kind: 'ip' as const, value: '203.0.113.99' },
          { kind: 'ip' as const, value: '198.51.100.15' }, { kind: 'ip' as const, value: '2001:db8::1' },
          { kind: 'ip' as const, value: '::ffff:192.0.2.1' }, { kind: 'ip' as const, value: '10.1.2.3' }, { kind: 'ip' as const, value: '8.8.8.8' },
          { kind: 'country' as const, value: 'de' }, { kind: 'country' as const, value: 'FR' },
          { kind: 'path' as const, value: '/wp-admin/setup.php' }, { kind: 'path' as const, value: '/wp-login.php' },
          { kind: 'path' as const, value: '/école/a' }, { kind: 'path' as const, value: '/home' },
          { kind: 'userAgent' as const, value: 'Nikto/2.5.0' }, { kind: 'userAgent' as const, value: 'kelvin-bot' },
        ];
        const found = await store.rulesFor(site.id, coverageLookup(shown, ['rl']));
        const ids = found.map((r) => r.id);
        assert.deepEqual(ids, all.map((r) => r.id).filter((id) => ids.includes(id)), 'in list order');
        for (const id of ['ip-exact', 'ip-net', 'ip-range', 'ip-v6', 'ip-mapped', 'ip-expired', 'country', 'path', 'path-case', 'path-accent', 'ua', 'ua-kelvin', 'rl']) {
          assert.ok(ids.includes(id), id);
        }
        assert.ok(!ids.some((id) => id.startsWith('filler-') || id === 'elsewhere' || id === 'asn' || id === 'list'), ids.join());
        const subset = ruleCoverage(found, now);
        const full = ruleCoverage(all, now);
        for (const { kind, value } of shown) assert.deepEqual(subset.of(kind, value), full.of(kind, value), `${kind} ${value}`);

        // The IP page: the address's ranges, and its country, network and lists.
        const facts = { country: 'DE', asn: 'AS64500', lists: ['tor'] };
        for (const ip of ['203.0.113.7', '198.51.100.15', '2001:db8::1', '::ffff:192.0.2.1', '8.8.8.8']) {
          const forIp = await store.rulesFor(site.id, { ...coverageLookup([{ kind: 'ip', value: ip }]), countries: ['DE'], asns: ['AS64500'], lists: ['tor'] });
          assert.deepEqual(rulesForIp(forIp, ip, facts, now).map((r) => r.id), rulesForIp(all, ip, facts, now).map((r) => r.id), ip);
        }
        assert.deepEqual(await store.rulesFor(site.id, {}), []);
        assert.deepEqual((await store.rulesFor(site.id, { ips: ['not an address'] })).map((r) => r.id), [], 'no address, no IP rule');

        // An update moves a rule's range; a rule that is no longer an IP rule is no longer looked up as one.
        await store.updateRule(site.id, block('ip-exact', 'ip', '192.0.2.200'), 3);
        await store.updateRule(site.id, block('ip-v6', 'path', '/now-a-path'), 3);
        const moved = (await store.rulesFor(site.id, { ips: ['192.0.2.200', '203.0.113.7', '2001:db8::1'] })).map((r) => r.id);
        assert.deepEqual(moved, ['ip-exact', 'ip-net']);
      });
    });

    it('builds, client contacts and reporters are upserted', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        assert.equal(await store.getBuild(site.id, 'moat'), undefined);
        const build = { siteId: site.id, format: 'moat' as const, fileName: 'f1.db', hash: 'h1', builtAt: 1, ruleCount: 2 };
        await store.saveBuild(build);
        await store.saveBuild({ ...build, fileName: 'f2.db', hash: 'h2', builtAt: 2 });
        assert.deepEqual(await store.getBuild(site.id, 'moat'), { ...build, fileName: 'f2.db', hash: 'h2', builtAt: 2 });
        assert.equal(await store.getBuild(site.id, 'wafris'), undefined);
        const contact = {
          siteId: site.id, apiKeyId: 1, hostname: 'web-1', processId: '42', client: 'moat', version: '1', framework: 'express',
          category: 'custom_rules', format: 'moat' as const, clientDb: '', servedFile: 'f1.db', ip: '10.0.0.1', lastSeen: 10,
        };
        await store.recordClientContact(contact);
        await store.recordClientContact({ ...contact, servedFile: 'f2.db', lastSeen: 20 });
        assert.deepEqual(await store.listClients(site.id), [{ ...contact, servedFile: 'f2.db', lastSeen: 20 }]);
        await store.recordReporter({ siteId: site.id, client: 'moat', version: '1', framework: 'x', lastSeen: 5, records: 10 });
        await store.recordReporter({ siteId: site.id, client: 'moat', version: '1', framework: 'x', lastSeen: 6, records: 15 });
        assert.deepEqual(await store.listReporters(site.id), [{ siteId: site.id, client: 'moat', version: '1', framework: 'x', lastSeen: 6, records: 25 }]);
      });
    });

    it('a client contact row belongs to the API key that made it: another key of the site adds its own row', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const contact = {
          siteId: site.id, apiKeyId: 7, hostname: 'web-1', processId: '42', client: 'moat', version: '1', framework: 'express',
          category: 'custom_rules', format: 'moat' as const, clientDb: '', servedFile: 'current.db', ip: '10.0.0.1', lastSeen: 10,
        };
        await store.recordClientContact(contact);
        // Another key of the site claims the same host, process, client and category.
        const other = { ...contact, apiKeyId: 8, version: '0.1', framework: 'koa', format: 'wafris' as const,
          clientDb: 'old.db', servedFile: 'old.db', ip: '10.0.0.66', lastSeen: 20 };
        await store.recordClientContact(other);
        assert.deepEqual(await store.listClients(site.id), [other, contact], 'two keys on one hostname are two clients');
        // Each key updates only its own row.
        await store.recordClientContact({ ...contact, servedFile: 'newer.db', lastSeen: 30 });
        assert.deepEqual(await store.listClients(site.id), [{ ...contact, servedFile: 'newer.db', lastSeen: 30 }, other]);
        // Pruning and the cap see both rows.
        assert.equal(await store.pruneContacts({ rawSeconds: 100, rollupSeconds: 15 }, 40), 1, 'only the row unseen since 20 goes');
        assert.deepEqual((await store.listClients(site.id)).map((c) => c.apiKeyId), [7]);
      });
    });

    it('client contacts and reporters: unseen for the rollup retention, or past the newest CONTACTS_PER_SITE of a site, are pruned', async () => {
      await withStore(open, async (store) => {
        const [flooded, quiet] = [await store.createSite('flooded'), await store.createSite('quiet')];
        const contact = (siteId: number, i: number, lastSeen: number) => ({
          siteId, apiKeyId: 1, hostname: `host-${i}`, processId: '1', client: 'moat', version: '1', framework: 'express',
          category: 'custom_rules', format: 'moat' as const, clientDb: '', servedFile: 'f.db', ip: '10.0.0.1', lastSeen,
        });
        const now = 1_000_000;
        const policy = { rawSeconds: 100, rollupSeconds: 100_000 };
        // One key's made-up hostnames and frameworks, all recent: more than a site keeps of each.
        const extra = 25;
        for (let i = 0; i < CONTACTS_PER_SITE + extra; i++) {
          await store.recordClientContact(contact(flooded.id, i, now - 20_000 + i));
          await store.recordReporter({ siteId: flooded.id, client: 'moat', version: '1', framework: `fw-${i}`, lastSeen: now - 20_000 + i, records: 1 });
        }
        await store.recordClientContact(contact(quiet.id, 1, now - 10));
        // Unseen for longer than the rollup retention:
        await store.recordClientContact(contact(quiet.id, 2, now - 200_000));
        await store.recordReporter({ siteId: quiet.id, client: 'moat', version: '1', framework: 'old', lastSeen: now - 200_000, records: 1 });
        assert.equal(await store.pruneContacts(policy, now), 2 * extra + 2, 'the 25 oldest of each table of the flooded site, and the two unseen');
        const newest = await store.listClients(flooded.id);
        assert.equal(newest.length, 500, 'the page lists the newest 500');
        assert.equal(newest[0]!.lastSeen, now - 20_000 + CONTACTS_PER_SITE + extra - 1);
        assert.deepEqual((await store.listClients(quiet.id)).map((c) => c.hostname), ['host-1'], 'the other site keeps its recent contact');
        assert.deepEqual(await store.listReporters(quiet.id), []);
        assert.equal(await store.pruneContacts(policy, now), 0, 'a second pass finds nothing more');
      });
    });

    it('reports: atomic batches, rollups counted once, dashboard queries and the request log', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const other = await store.createSite('other');
        const batch: ReportRecord[] = [];
        for (let i = 0; i < 30; i++) {
          batch.push(report({ ts: BASE + i * 200, ip: `203.0.113.${i % 5}`, path: `/p${i % 3}`, requestId: `r${i}`, country: i % 2 ? 'DE' : null }));
        }
        batch.push(report({ ts: BASE + 10, ip: '198.51.100.7', treatment: 'Blocked', category: 'bi', rule: '198.51.100.0/24', ruleId: 'rule-1' }));
        batch.push(report({ ts: BASE + 20, ip: '198.51.100.8', treatment: 'Blocked', category: 'bu', rule: 'sqlmap', ruleId: null }));
        batch.push(report({ ts: BASE + 30, ip: '192.0.2.1', treatment: 'Allowed', category: 'ai', rule: '192.0.2.1', ruleId: 'allow-1' }));
        batch.push(report({ ts: BASE + 40, monitored: [{ category: 'bp', rule: '/p0', rule_id: 'mon-1' }, { category: 'bh', rule: 'h', rule_id: null }] }));
        await store.insertReports(site.id, batch);
        await store.insertReports(other.id, [report({ ts: BASE + 5 })]);
        // All or nothing: one bad record (ip must not be null) rejects the batch.
        await assert.rejects(store.insertReports(site.id, [report({ requestId: 'bad-batch' }), report({ ip: null as unknown as string })]));

        assert.equal(await rollUpAll(store), 35);
        assert.equal(await store.rollUp(), 0, 'nothing left to fold');
        const to = BASE + 2 * HOUR;
        assert.deepEqual(await store.totals(site.id, BASE, to), { total: 34, blocked: 2, allowed: 1, passed: 31, monitored: 1 });
        assert.deepEqual(await store.totals(other.id, BASE, to), { total: 1, blocked: 0, allowed: 0, passed: 1, monitored: 0 });
        // A later batch folds on top of the earlier one.
        await store.insertReports(site.id, [report({ ts: BASE + 50, ip: '198.51.100.7', treatment: 'Blocked', category: 'bi', rule: '198.51.100.0/24', ruleId: 'rule-1' })]);
        assert.equal(await rollUpAll(store), 1);
        assert.equal((await store.totals(site.id, BASE, to)).blocked, 3);

        const series = await store.timeSeries(site.id, BASE, to, HOUR);
        assert.deepEqual(series.map((b) => [b.t, b.total]), [[BASE, 23], [BASE + HOUR, 12]]);
        const ips = await store.top(site.id, 'ip', BASE, to, 3);
        assert.deepEqual(ips[0], { value: '203.0.113.1', total: 7, blocked: 0 }, '6 from the loop and the monitored one');
        assert.equal(ips.length, 3);
        assert.deepEqual(await store.top(site.id, 'country', BASE, to, 5), [{ value: 'DE', total: 15, blocked: 0 }]);
        assert.deepEqual((await store.top(site.id, 'rule', BASE, to, 1))[0], { value: 'bi\t198.51.100.0/24', total: 2, blocked: 2 });
        assert.equal(await store.uniqueIps(site.id, BASE, to), 8);
        const hits = await store.ruleHits(site.id, BASE, to, { ids: ['rule-1', 'mon-1', 'bh\th', 'nope'], matches: ['bu\tsqlmap', 'bp\t/nope'] });
        assert.deepEqual(hits.byId.get('rule-1'), { hits: 2, monitored: 0 });
        assert.deepEqual(hits.byId.get('mon-1'), { hits: 0, monitored: 1 });
        assert.deepEqual(hits.byId.get('bh\th'), { hits: 0, monitored: 1 });
        assert.equal(hits.byMatch.get('bu\tsqlmap'), 1);
        assert.deepEqual([hits.byId.size, hits.byMatch.size], [3, 1], 'only the keys asked for, and only those with hits');
        const none = await store.ruleHits(site.id, BASE, to, { ids: ['mon-1'], matches: [] });
        assert.deepEqual([...none.byId.keys()], ['mon-1'], 'values not asked for are not read');
        assert.equal(none.byMatch.size, 0);

        const first = await store.queryReports(site.id, {}, { limit: 10 });
        assert.equal(first.rows.length, 10);
        assert.ok(first.next);
        assert.ok(first.rows.every((r, i) => i === 0 || r.ts <= first.rows[i - 1]!.ts), 'newest first');
        const second = await store.queryReports(site.id, {}, { limit: 100, before: first.next! });
        assert.equal(first.rows.length + second.rows.length, 35);
        assert.equal(second.next, null);
        assert.equal(new Set([...first.rows, ...second.rows].map((r) => r.id)).size, 35, 'no row twice');
        assert.ok(![...first.rows, ...second.rows].some((r) => r.requestId === 'bad-batch'));
        const blocked = await store.queryReports(site.id, { treatment: 'Blocked' }, { limit: 10 });
        assert.deepEqual(blocked.rows.map((r) => r.ip).sort(), ['198.51.100.7', '198.51.100.7', '198.51.100.8']);
        const byIp = await store.queryReports(site.id, { ip: '203.0.113.2' }, { limit: 50 });
        assert.equal(byIp.rows.length, 6);
        assert.deepEqual((await store.queryReports(site.id, { path: '/p1' }, { limit: 50 })).rows.length, 10);
        const byRule = await store.queryReports(site.id, { rule: 'rule-1' }, { limit: 50 });
        // The IP detail page's queries: the first minute with data, and one value's hours by index seeks.
        assert.equal(await store.earliestMinute(site.id), BASE);
        assert.equal(await store.earliestMinute(site.id + other.id + 100), undefined);
        assert.deepEqual(await store.valueHours(site.id, 'ip', '198.51.100.7', BASE - HOUR, to), [{ hour: BASE, total: 2, blocked: 2 }]);
        assert.deepEqual((await store.valueHours(site.id, 'ip', '203.0.113.1', BASE, to)).map((h) => [h.hour, h.total]), [[BASE, 5], [BASE + HOUR, 2]], 'four from the loop and the monitored one, then two');
        assert.deepEqual(await store.valueHours(site.id, 'ip', '203.0.113.1', BASE + 2 * HOUR, BASE + 3 * HOUR), []);
        assert.deepEqual(await store.valueHours(other.id, 'ip', '198.51.100.7', BASE, to), [], 'another site sees nothing');
        assert.equal(byRule.rows.length, 2);
        const monitored = (await store.queryReports(site.id, { from: BASE + 40, to: BASE + 41 }, { limit: 5 })).rows;
        assert.deepEqual(monitored[0]?.monitored, [{ category: 'bp', rule: '/p0', rule_id: 'mon-1' }, { category: 'bh', rule: 'h', rule_id: null }]);
        assert.equal(monitored[0]?.treatment, 'Passed');
      });
    });

    it('reports: the hashed keys a client reported are stored and read back; a report without keys has none', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('keys');
        const hash = (c: string) => c.repeat(32);
        const keys = [{ kind: 'header:x-api-key', hash: hash('a') }, { kind: 'user', hash: hash('b') }];
        // Enough rows for a multi-row insert statement, keyed and not, in one batch.
        const batch = Array.from({ length: 120 }, (_, i) => report({
          ts: BASE + i, requestId: `k${i}`, keys: i % 3 === 0 ? null : i % 3 === 1 ? keys : [{ kind: 'cookie:session', hash: hash(String(i % 10)) }],
        }));
        await store.insertReports(site.id, batch);
        const rows = (await store.queryReports(site.id, {}, { limit: 200 })).rows;
        assert.equal(rows.length, 120);
        for (const row of rows) {
          const i = Number(row.requestId.slice(1));
          if (i % 3 === 0) assert.equal(row.keys ?? null, null, `report ${i} had no keys`);
          else if (i % 3 === 1) assert.deepEqual(row.keys, keys);
          else assert.deepEqual(row.keys, [{ kind: 'cookie:session', hash: hash(String(i % 10)) }]);
        }
      });
    });

    it('reports: the response status a client reported is stored and read back; a report without one has null', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('status');
        const statusOf = (i: number) => (i % 4 === 0 ? null : i % 4 === 1 ? 200 : i % 4 === 2 ? 429 : 599);
        // Enough rows for a multi-row insert statement; every fourth carries no status (null or absent).
        const batch = Array.from({ length: 120 }, (_, i) => report({
          ts: BASE + i, requestId: `s${i}`, ...(i % 8 === 0 ? {} : { status: statusOf(i) }),
        }));
        await store.insertReports(site.id, batch);
        const rows = (await store.queryReports(site.id, {}, { limit: 200 })).rows;
        assert.equal(rows.length, 120);
        for (const row of rows) {
          const i = Number(row.requestId.slice(1));
          assert.equal(row.status, statusOf(i), `report ${i}`);
        }
      });
    });

    it('reports: a batch with an id is stored once — retried, sent twice at once, or larger than a slice; ids are per site and expire', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const other = await store.createSite('other');
        const rows = (n: number, tag: string) => Array.from({ length: n }, (_, i) => report({ ts: BASE + (i % 3000), requestId: `${tag}-${i}` }));
        const small = rows(5, 'small');
        assert.equal(await store.insertReports(site.id, small, { id: 'b-1', receivedAt: BASE }), 'stored');
        assert.equal(await store.insertReports(site.id, small, { id: 'b-1', receivedAt: BASE + 5 }), 'duplicate');
        assert.equal(await rollUpAll(store), 5, 'the retry stored nothing');
        assert.equal(await store.insertReports(other.id, small, { id: 'b-1', receivedAt: BASE }), 'stored', 'ids are per site');
        assert.equal(await rollUpAll(store), 5);

        // Larger than the SQLite store's 2,000-row slices, sent twice at once (a retry while the first try is still storing).
        const big = rows(4_500, 'big');
        const outcomes = await Promise.all([
          store.insertReports(site.id, big, { id: 'big', receivedAt: BASE }),
          store.insertReports(site.id, big, { id: 'big', receivedAt: BASE }),
        ]);
        assert.ok(outcomes.includes('stored'), outcomes.join());
        assert.equal(await store.insertReports(site.id, big, { id: 'big', receivedAt: BASE }), 'duplicate');
        assert.equal(await rollUpAll(store), 4_500, 'every record of the big batch once');

        // Without an id every call stores (the Wafris gem's batches: it never resends one).
        await store.insertReports(site.id, small);
        await store.insertReports(site.id, small);
        assert.equal(await rollUpAll(store), 10);

        // Ids are remembered BATCH_ID_RETENTION_SECONDS (24 h) after receipt, then pruned with the reports.
        const keepAll = { rawSeconds: 10_000 * 86_400, rollupSeconds: 10_000 * 86_400 };
        await store.prune(keepAll, BASE + 86_400 - 10);
        assert.equal(await store.insertReports(site.id, small, { id: 'b-1', receivedAt: BASE + 86_400 - 10 }), 'duplicate');
        await store.prune(keepAll, BASE + 86_400 + 10);
        assert.equal(await store.insertReports(site.id, small, { id: 'b-1', receivedAt: BASE + 86_400 + 10 }), 'stored', 'forgotten after 24 h');
        assert.equal(await rollUpAll(store), 5);
      });
    });

    it('retention: deletes only folded raw reports past rawSeconds and rollups past rollupSeconds', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const day = 86_400;
        const now = BASE + 100 * day;
        await store.insertReports(site.id, [
          report({ ts: now - 95 * day }), report({ ts: now - 10 * day }), report({ ts: now - 60 }),
        ]);
        assert.equal(await store.prune({ rawSeconds: 7 * day, rollupSeconds: 90 * day }, now), 0, 'nothing folded yet, nothing deleted');
        await rollUpAll(store);
        const deleted = await store.prune({ rawSeconds: 7 * day, rollupSeconds: 90 * day }, now);
        assert.ok(deleted >= 3, `deleted ${deleted}`);
        const left = await store.queryReports(site.id, { from: 0 }, { limit: 10 });
        assert.deepEqual(left.rows.map((r) => r.ts), [now - 60]);
        assert.equal((await store.totals(site.id, 0, now + 1)).total, 2, 'the 95-day-old minute is gone, the 10-day-old one kept');
        assert.equal(await store.prune({ rawSeconds: 7 * day, rollupSeconds: 90 * day }, now), 0);
      });
    });

    it('retention: a report dated far ahead (stored before ingest clamped dates) ages out too', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('s');
        const day = 86_400;
        const now = BASE + 100 * day;
        const year5138 = 99_999_999_999;
        await store.insertReports(site.id, [report({ ts: year5138 }), report({ ts: now - 60 }), report({ ts: now + 3600 })]);
        await rollUpAll(store);
        await store.prune({ rawSeconds: 7 * day, rollupSeconds: 90 * day }, now);
        const left = await store.queryReports(site.id, { from: 0 }, { limit: 10 });
        assert.deepEqual(left.rows.map((r) => r.ts).sort(), [now - 60, now + 3600], 'only the far-future row is gone');
      });
    });

    it('bot settings: none stored reads as undefined; saved JSON is read back, replaced, and kept per site', async () => {
      await withStore(open, async (store) => {
        const site = await store.createSite('bots');
        assert.equal(await store.getBotSettings(site.id), undefined);
        await store.saveBotSettings(site.id, '{"ai-crawler":"block"}', BASE);
        await store.saveBotSettings(site.id, '{"ai-crawler":"block","spoofed":"block"}', BASE + 1);
        assert.equal(await store.getBotSettings(site.id), '{"ai-crawler":"block","spoofed":"block"}');
        const other = await store.createSite('other');
        assert.equal(await store.getBotSettings(other.id), undefined);
      });
    });

    it('bot catalogues: the newest accepted entry is in force, a held one waits, decisions are taken once, pruning keeps the one in force', async () => {
      await withStore(open, async (store) => {
        const c = store.botCatalogues;
        assert.equal(await c.current(), undefined, 'none: the shipped catalogue');
        const diff = { added: 1, removed: 0, changed: 0, addedIds: ['examplebot'], removedIds: [], changedIds: [] };
        const base = { content: '{"updated":"","bots":[]}', source: 'feed', sourceId: 1, fetchedAt: BASE, recordedAt: BASE, bots: 70, edition: 'e', diff };
        const first = await c.add({ ...base, state: 'accepted', hash: 'a'.repeat(64) });
        const held = await c.add({ ...base, state: 'held', hash: 'b'.repeat(64), bots: 3 });
        assert.ok(held.version > first.version);
        assert.equal((await c.current())?.hash, 'a'.repeat(64), 'a held entry is not in force');
        assert.equal((await c.held())?.version, held.version);
        assert.deepEqual((await c.current())?.diff, diff);
        assert.equal(await c.decide(held.version, 'confirmed'), true);
        assert.equal(await c.decide(held.version, 'dismissed'), false, 'decided once');
        assert.equal(await c.held(), undefined);
        const shipped = await c.add({ ...base, state: 'accepted', hash: 'c'.repeat(64), content: null, source: 'shipped', sourceId: null });
        assert.equal((await c.current())?.content, null);
        assert.equal((await c.get(first.version))?.content, base.content);
        for (let i = 0; i < 5; i++) await c.add({ ...base, state: 'held', hash: `${i}`.repeat(64) });
        await c.decide((await c.held())!.version, 'dismissed');
        assert.ok((await c.prune(2)) > 0);
        const left = await c.list(10);
        assert.ok(left.some((e) => e.version === shipped.version), 'the entry in force is never pruned');
        assert.equal(left.length, 3);
        assert.equal((await c.current())?.version, shipped.version);
      });
    });
  });
}
