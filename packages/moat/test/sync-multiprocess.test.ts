// Many processes on one host share a sync directory: one download per version, the others load the
// file from the pointer; a process SIGKILLed mid-download leaves no lock that blocks the next one,
// and its partial file is never used. Real child processes (child_process.fork).
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ManagedStatus } from '../src/managed/managed-firewall.js';
import { createManagedFirewall } from '../src/managed/managed-firewall.js';
import { FakeHub, rulesBytes, tempDir, waitFor } from './helpers/fake-hub.js';

const CHILD = new URL('./helpers/fake-hub-client-process.ts', import.meta.url).pathname;

interface Child {
  process: ChildProcess;
  ready: Promise<ManagedStatus>;
  status(): Promise<ManagedStatus>;
  close(): Promise<void>;
}

function startChild(options: object): Child {
  const child = fork(CHILD, [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters: ((s: ManagedStatus) => void)[] = [];
  let onReady: (s: ManagedStatus) => void = () => {};
  const ready = new Promise<ManagedStatus>((resolve) => { onReady = resolve; });
  child.on('message', (m: { type: string; status: ManagedStatus }) => {
    if (m.type === 'ready') onReady(m.status);
    if (m.type === 'status') waiters.shift()?.(m.status);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    ready,
    status: () => new Promise((resolve) => { waiters.push(resolve); child.send({ type: 'status' }); }),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.send({ type: 'close' });
      await exited;
    },
  };
}

const SYNC = { customRulesIntervalMs: 150, dataIntervalMs: 60_000, watchIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 100, requestTimeoutMs: 3000 };

test('three processes on one directory: one download per version, all run it', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  const v1 = rulesBytes({ block: { paths: ['/v1'] } });
  hub.serve('custom_rules', v1.body, 'v1.db');
  const options = { ...SYNC, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir };
  const children = [startChild(options), startChild(options), startChild(options)];
  try {
    const ready = await Promise.all(children.map((c) => c.ready));
    for (const status of ready) assert.equal(status.customRules.file?.contentHash, v1.hash);
    assert.equal(hub.downloads('custom_rules'), 1, 'one download for three processes');
    assert.equal(new Set(hub.downsyncs.map((h) => h.query.process_id)).size >= 1, true);

    const v2 = rulesBytes({ block: { paths: ['/v2'] } });
    hub.serve('custom_rules', v2.body, 'v2.db');
    const deadline = Date.now() + 60_000; // a hang guard, not a speed check
    for (;;) {
      const statuses = await Promise.all(children.map((c) => c.status()));
      if (statuses.every((s) => s.customRules.file?.contentHash === v2.hash)) {
        assert.equal(statuses.reduce((n, s) => n + s.customRules.downloads, 0), 2, 'v1 and v2 downloaded once each');
        assert.ok(statuses.some((s) => s.customRules.followed >= 1), 'the others loaded it from the pointer');
        break;
      }
      assert.ok(Date.now() < deadline, 'every process runs v2');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(hub.downloads('custom_rules'), 2);
  } finally {
    await Promise.all(children.map((c) => c.close()));
    await hub.stop();
    cleanup();
  }
});

test('a process SIGKILLed mid-download leaves no stale lock and its partial file is never used', async () => {
  const hub = await new FakeHub().start();
  const { dir, cleanup } = tempDir();
  try {
    const v1 = rulesBytes({ block: { paths: ['/v1'] } });
    hub.serve('custom_rules', v1.body, 'v1.db');
    const first = createManagedFirewall({ ...SYNC, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, logger: false, env: {}, upsync: false });
    await first.ready();
    await first.close();
    const pointerBefore = readFileSync(join(dir, 'current-custom_rules.json'), 'utf8');

    const v2 = rulesBytes({ block: { paths: ['/v2'] } });
    hub.serve('custom_rules', v2.body, 'v2.db');
    hub.fault('custom_rules', { kind: 'stall-body', bytes: 3000 });
    let stalled: () => void = () => {};
    const midDownload = new Promise<void>((resolve) => { stalled = resolve; });
    hub.onStall = () => stalled();
    // The victim would poll at once (its pointer is from a closed process but checked long enough ago).
    const victim = startChild({ ...SYNC, customRulesIntervalMs: 1, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir });
    await midDownload;
    await waitFor(() => readdirSync(dir).some((f) => f.endsWith('.part')), 'the partial file on disk');
    assert.ok(existsSync(join(dir, '.custom_rules.lock')), 'the victim holds the lock');
    victim.process.kill('SIGKILL');
    await victim.close();
    assert.ok(existsSync(join(dir, '.custom_rules.lock')), 'a dead holder\'s lock is still on disk');
    assert.equal(readFileSync(join(dir, 'current-custom_rules.json'), 'utf8'), pointerBefore, 'the pointer never saw the partial file');

    // A new process on the same directory: uses v1 at once, breaks the dead lock, downloads v2.
    hub.fault('custom_rules', { kind: 'serve' });
    const next = createManagedFirewall({ ...SYNC, customRulesIntervalMs: 1, apiKey: hub.apiKey, downsyncUrl: hub.downsyncUrl, dir, logger: false, env: {}, upsync: false });
    try {
      assert.equal(next.status().customRules.file?.contentHash, v1.hash, 'the last good file, not the partial one');
      const status = await next.ready();
      assert.equal(status.customRules.lastResult, 'updated', status.customRules.lastError ?? '');
      assert.equal(status.customRules.file?.contentHash, v2.hash);
      const d = next.currentEngine!.evaluate({ ip: '192.0.2.1', method: 'GET', path: '/v2' });
      assert.equal(d.treatment, 'Blocked');
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.part')), [], 'the dead process\'s partial file is removed');
      assert.equal(existsSync(join(dir, '.custom_rules.lock')), false, 'the lock is released');
    } finally {
      await next.close();
    }
  } finally {
    await hub.stop();
    cleanup();
  }
});
