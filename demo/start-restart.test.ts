// `npm start` run as a person runs it, several times in one checkout: the real demo/start.ts in a child
// process, on free ports, in a temporary demo folder. A second start (even with --fresh) while one runs,
// or a start whose port is taken, must change nothing; a restart keeps rules, password, site and key;
// --fresh starts over. Every check goes through the hub's and the shop's sockets.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shopStatus, startDemoProcess, untilShopStatus, type DemoProcess } from './demo-process.js';
import type { DemoState } from './demo-state.js';

const BLOCKED_BY_TEST = '198.51.100.200';

async function stopDemo(demo: DemoProcess): Promise<void> {
  assert.equal(await demo.stop(), 0, demo.output());
}

/** Signs in through the login form, as a browser would; resolves to a session cookie and its CSRF token, or the login status. */
async function signIn(hub: string, email: string, password: string): Promise<{ cookie: string; csrf: string } | { status: number }> {
  const form = await fetch(`${hub}/login`);
  const loginCookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const res = await fetch(`${hub}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie, origin: hub },
    body: new URLSearchParams({ email, password, _csrf: token, next: '/' }).toString(),
  });
  await res.arrayBuffer();
  if (res.status !== 303) return { status: res.status };
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const me = await fetch(`${hub}/api/me`, { headers: { cookie } });
  assert.equal(me.status, 200);
  return { cookie, csrf: ((await me.json()) as { csrfToken: string }).csrfToken };
}

async function session(hub: string, email: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const result = await signIn(hub, email, password);
  assert.ok('cookie' in result, `sign-in answered ${'status' in result ? result.status : '?'}`);
  return result;
}

async function ruleValues(state: DemoState, auth: { cookie: string }): Promise<string[]> {
  const res = await fetch(`${state.hub}/api/sites/${state.siteId}/rules`, { headers: { cookie: auth.cookie } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { rules: { value: string }[] }).rules.map((r) => r.value);
}

/** What a second start must not change: the state files, byte for byte, and the hub's database file. */
function snapshot(root: string) {
  return {
    demoJson: readFileSync(join(root, 'demo.json'), 'utf8'),
    password: readFileSync(join(root, 'admin-password'), 'utf8'),
    hubFiles: existsSync(join(root, 'hub')) && statSync(join(root, 'hub')).isDirectory(),
    dataStamp: readFileSync(join(root, 'data-files', 'built.json'), 'utf8'),
  };
}

describe('npm start, again and again, in one checkout', () => {
  let dir: string;
  let root: string;
  let first: DemoProcess | undefined;
  let firstState: DemoState;
  let password: string;
  const running: DemoProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'moat-demo-restart-'));
    root = join(dir, 'demo');
  });

  after(async () => {
    for (const demo of running) if (demo.child.exitCode === null) { demo.child.kill('SIGKILL'); await demo.exited; }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the first start prints a new password once and keeps it in a 0600 file beside the data', async () => {
    first = startDemoProcess(root);
    running.push(first);
    firstState = await first.whenRunning();
    password = readFileSync(join(root, 'admin-password'), 'utf8').trim();
    assert.ok(password.length >= 12);
    assert.equal(statSync(join(root, 'admin-password')).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'demo.json')).mode & 0o777, 0o600);
    assert.ok(first.output().includes(password), 'the first start prints the password');
    await session(firstState.hub, firstState.adminEmail, password);
    assert.equal(await shopStatus(firstState.app, '/wp-admin', '203.0.113.5'), 403, 'the demo rules are in force');
  });

  it('a second `npm start -- --fresh` while the demo runs exits 1, deletes nothing, and the running shop still takes new rules', async () => {
    assert.ok(first);
    const before = snapshot(root);
    const second = startDemoProcess(root, ['--fresh']);
    running.push(second);
    assert.equal(await second.exited, 1, second.output());
    assert.match(second.output(), new RegExp(`already running .*pid ${first.child.pid}`));
    assert.match(second.output(), /Nothing was changed/);
    assert.deepEqual(snapshot(root), before);

    // The running demo is whole: its hub stores a new rule and its shop's client downloads it.
    const auth = await session(firstState.hub, firstState.adminEmail, password);
    const created = await fetch(`${firstState.hub}/api/sites/${firstState.siteId}/rules`, {
      method: 'POST',
      headers: { cookie: auth.cookie, 'x-csrf-token': auth.csrf, origin: firstState.hub, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'block', kind: 'ip', value: BLOCKED_BY_TEST, note: 'added by the restart test', mode: 'block' }),
    });
    assert.equal(created.status, 201, await created.text());
    await untilShopStatus(firstState.app, '/products', BLOCKED_BY_TEST, 403);
    assert.equal(await shopStatus(firstState.app, '/products', '203.0.113.5'), 200);
  });

  it('`npm start -- --fresh` with the hub port taken by another program exits 1 before touching the data', async () => {
    assert.ok(first);
    await stopDemo(first);
    assert.equal(existsSync(join(root, 'demo.lock')), false, 'a clean stop removes its lock');
    const before = snapshot(root);
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    try {
      const port = (squatter.address() as AddressInfo).port;
      const blocked = startDemoProcess(root, ['--fresh'], { MOAT_HUB_PORT: String(port) });
      running.push(blocked);
      assert.equal(await blocked.exited, 1, blocked.output());
      assert.match(blocked.output(), new RegExp(`port ${port} .*in use`));
      assert.deepEqual(snapshot(root), before);
      assert.equal(existsSync(join(root, 'demo.lock')), false, 'a refused start leaves no lock behind');
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('a restart after a crash (a stale lock) keeps the rules, the password, the site and the key', async () => {
    // A lock left by a process that is gone must not block the next start.
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(root, 'demo.lock'), JSON.stringify({ pid: dead, startedAt: 'earlier' }));

    const again = startDemoProcess(root);
    running.push(again);
    const state = await again.whenRunning();
    assert.equal(state.apiKey, firstState.apiKey, 'the same key');
    assert.equal(state.siteId, firstState.siteId, 'the same site');
    assert.equal(readFileSync(join(root, 'admin-password'), 'utf8').trim(), password, 'the password is not reissued');
    assert.ok(!again.output().includes(password), 'a restart does not print the password again');
    assert.match(again.output(), /admin-password/);
    assert.match(again.output(), /kept from the last start/);

    const auth = await session(state.hub, state.adminEmail, password);
    assert.ok((await ruleValues(state, auth)).includes(BLOCKED_BY_TEST), 'the rule added before the restart is still there');
    assert.equal(await shopStatus(state.app, '/products', BLOCKED_BY_TEST), 403, 'and the restarted shop enforces it');
    await stopDemo(again);
  });

  it('`npm start -- --fresh` starts over: new key, new password, only the demo rules', async () => {
    const fresh = startDemoProcess(root, ['--fresh']);
    running.push(fresh);
    const state = await fresh.whenRunning();
    assert.notEqual(state.apiKey, firstState.apiKey);
    const newPassword = readFileSync(join(root, 'admin-password'), 'utf8').trim();
    assert.notEqual(newPassword, password);
    assert.ok(fresh.output().includes(newPassword));
    const old = await signIn(state.hub, state.adminEmail, password);
    assert.ok('status' in old && old.status === 401, `the old password is refused: ${JSON.stringify(old)}`);
    const auth = await session(state.hub, state.adminEmail, newPassword);
    assert.ok(!(await ruleValues(state, auth)).includes(BLOCKED_BY_TEST));
    assert.equal(await shopStatus(state.app, '/products', BLOCKED_BY_TEST), 200);
    await stopDemo(fresh);
  });
});

describe('npm start refuses bad input before touching anything', () => {
  it('an unknown option or a bad port exits 2 and creates no demo folder; --help exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moat-demo-args-'));
    try {
      const root = join(dir, 'demo');
      for (const [args, env] of [[['--frsh'], {}], [[], { MOAT_HUB_PORT: '87870' }], [[], { MOAT_DEMO_SHOP_PORT: 'abc' }]] as const) {
        const run = startDemoProcess(root, [...args], env);
        assert.equal(await run.exited, 2, run.output());
        assert.equal(existsSync(root), false, `${args.join(' ')} ${JSON.stringify(env)} created ${root}`);
      }
      const help = startDemoProcess(root, ['--help']);
      assert.equal(await help.exited, 0);
      assert.match(help.output(), /--fresh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
