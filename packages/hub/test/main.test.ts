import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { helpText, parseCommandLine, SETTINGS } from '../src/cli/command-line.js';
import { OPTION_REACH, type HubOptions } from '../src/config.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, Client } from './support/hub-fixture.js';
import { runMain, stopMain as stop, waitForStart } from './support/main-process.js';

const DOCS = fileURLToPath(new URL('../../../docs/hub.md', import.meta.url));

describe('hub entry point', () => {
  it('starts on a data dir, creates the admin from the environment and a demo site, prints URL and login, stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'moat-hub-main-'));
    const started = runMain(['--data-dir', dataDir, '--port', '0', '--demo'], {
      MOAT_HUB_ADMIN_EMAIL: 'ops@example.test', MOAT_HUB_ADMIN_PASSWORD: 'from the environment',
    });
    try {
      const url = await waitForStart(started);
      const output = started.output();
      assert.match(output, /Sign in: ops@example\.test/);
      assert.doesNotMatch(output, /from the environment/, 'the configured password is not printed');
      const key = /Demo site API key: (moat_\S+)/.exec(output)?.[1];
      assert.ok(key);
      assert.equal((await fetch(`${url}/login`)).status, 200);
      const rules = await fetch(`${url}/v2/downsync/custom_rules/${key}`);
      assert.equal(rules.status, 200);
      await rules.arrayBuffer();
      // The first start built a data file from the bundled CC0 country ranges, in both layouts: the Wafris
      // gem applies no rule until it holds one.
      assert.match(output, /built data-cc0-\d{4}-\d\d-\d\d\.db: [\d,]+ country ranges/);
      for (const format of ['moat', 'wafris']) {
        const file = readdirSync(join(dataDir, 'data-files', format));
        assert.equal(file.length, 1, `${format}: ${file.join(', ')}`);
        assert.match(file[0], /^data-cc0-.*\.db$/);
      }
      const data = await fetch(`${url}/v2/downsync/data_subscriptions/${key}`);
      assert.equal(data.status, 200);
      assert.match(data.headers.get('content-disposition') ?? '', /data-cc0-/);
      assert.equal(Buffer.from(await data.arrayBuffer()).subarray(0, 15).toString(), 'SQLite format 3');
      await stop(started);

      // A second start finds the files and builds nothing.
      const again = runMain(['--data-dir', dataDir, '--port', '0']);
      try {
        await waitForStart(again);
        assert.doesNotMatch(again.output(), /built data-cc0/);
        await stop(again);
      } finally {
        if (again.child.exitCode === null) again.child.kill('SIGKILL');
      }
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('passes the deploy options from flags and variables to the running hub: trust proxy, secure cookies, data files, login limit, retention', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'moat-hub-main-'));
    const dataFiles = join(scratch, 'data-files');
    mkdirSync(join(dataFiles, 'moat'), { recursive: true });
    writeFileSync(join(dataFiles, 'moat', 'data-1.db'), 'data file bytes');
    const passwordFile = join(scratch, 'admin-password');
    writeFileSync(passwordFile, `${ADMIN_PASSWORD}\n`);
    const started = runMain([
      '--data-dir', join(scratch, 'hub'), '--port', '0', '--demo', '--trust-proxy', '127.0.0.1', '--secure-cookies',
      '--data-files-dir', dataFiles, '--no-default-data', '--admin-password-file', passwordFile, '--retention-raw-days', '3',
    ], {
      MOAT_HUB_ADMIN_EMAIL: ADMIN_EMAIL, MOAT_HUB_LOGIN_MAX_FAILURES: '2', MOAT_HUB_LOGIN_SLOWDOWN_MS: '0',
      MOAT_HUB_PUBLIC_URL: 'https://hub.example.test', MOAT_HUB_RETENTION_ROLLUP_DAYS: '30',
      // The flag wins over its variable.
      MOAT_HUB_RETENTION_RAW_DAYS: '5',
    });
    try {
      const url = await waitForStart(started);
      const output = started.output();
      assert.match(output, /trust proxy 127\.0\.0\.1; secure cookies on/);
      assert.match(output, /retention 3 d raw, 30 d rollups/);
      assert.match(output, /public URL https:\/\/hub\.example\.test/);
      assert.doesNotMatch(output, new RegExp(ADMIN_PASSWORD));

      // Secure cookies.
      const page = await fetch(`${url}/login`);
      await page.arrayBuffer();
      assert.ok(page.headers.getSetCookie().every((c) => /;\s*Secure/i.test(c)), page.headers.getSetCookie().join(' | '));
      // Data files folder.
      const key = /Demo site API key: (moat_\S+)/.exec(output)![1];
      const data = await fetch(`${url}/v2/downsync/data_subscriptions/${key}`);
      assert.equal(data.status, 200);
      assert.equal(await data.text(), 'data file bytes');
      // Trusted proxy and login limit: two failures lock out the forwarded client, not another one.
      const signIn = async (password: string, forwardedFor: string) => {
        const client = new Client(url);
        const headers = { 'x-forwarded-for': forwardedFor };
        const form = await (await client.request('/login', { headers })).text();
        const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
        const response = await client.request('/login', { method: 'POST', headers, form: { email: ADMIN_EMAIL, password, _csrf: token, next: '/' } });
        await response.arrayBuffer();
        return response.status;
      };
      assert.equal(await signIn('wrong password', '198.51.100.1'), 401);
      assert.equal(await signIn('wrong password', '198.51.100.1'), 401);
      assert.equal(await signIn(ADMIN_PASSWORD, '198.51.100.1'), 429);
      assert.equal(await signIn(ADMIN_PASSWORD, '198.51.100.2'), 303, 'the password from the file, for another forwarded client');
      await stop(started);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('exits with status 2 and a message naming the option for invalid values, and starts nothing', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'moat-hub-main-')), 'never-created');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--port', '70000'], {}, /--port must be from 0 to 65535, got 70000/],
      [['--bogus'], {}, /Unknown option '--bogus'/],
      [['--admin-email', 'x@y'], {}, /invalid option:[\s\S]*email[\s\S]*adminEmail/],
    ];
    await Promise.all(cases.map(async ([args, env, message]) => {
      const run = runMain(['--data-dir', dataDir, ...args], env);
      assert.equal(await run.exited, 2, run.output());
      assert.match(run.output(), message);
      assert.doesNotMatch(run.output(), /\n\s+at /, 'no stack trace');
    }));
    assert.throws(() => readFileSync(join(dataDir, 'hub.db')), /ENOENT/);
  });

  it('--help lists every option with its variable and exits 0; docs/hub.md lists them too', async () => {
    const run = runMain(['--help']);
    assert.equal(await run.exited, 0);
    assert.equal(run.output(), helpText());
    const docs = readFileSync(DOCS, 'utf8');
    for (const [, flag, variable] of helpText().matchAll(/^ {2}(--[a-z-]+)[^\n]*\n {36}\[(MOAT_HUB_[A-Z_]+)/gm)) {
      assert.ok(docs.includes(`\`${flag}`), `docs/hub.md names ${flag}`);
      assert.ok(docs.includes(variable!), `docs/hub.md names ${variable}`);
    }
  });
});

describe('hub command line parsing', () => {
  it('reads every value from its variable, and the flag wins', () => {
    const parsed = parseCommandLine(['--port', '9000', '--no-signing'], {
      MOAT_HUB_PORT: '1', MOAT_HUB_HOST: '0.0.0.0', MOAT_HUB_DATABASE_URL: 'postgres://u:p@db/moat', MOAT_HUB_DATABASE_POOL_SIZE: '4',
      MOAT_HUB_TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8', MOAT_HUB_DEMO: 'yes', MOAT_HUB_LOG: '1', MOAT_HUB_UPSYNC_MAX_RECORDS: '500',
      MOAT_HUB_LOGIN_WINDOW_SECONDS: '60', MOAT_HUB_NO_SELF_PROTECTION: 'true', MOAT_HUB_SESSION_TTL_SECONDS: '3600',
    });
    assert.equal(parsed.kind, 'start');
    if (parsed.kind !== 'start') return;
    const o = parsed.options;
    assert.equal(o.port, 9000);
    assert.equal(o.host, '0.0.0.0');
    assert.equal(o.databaseUrl, 'postgres://u:p@db/moat');
    assert.equal(o.databasePoolSize, 4);
    assert.deepEqual(o.trustProxy, ['loopback', '10.0.0.0/8', 'fd00::/8']);
    assert.equal(o.createDemoSite, true);
    assert.deepEqual(o.logger, { level: 'info' });
    assert.equal(o.upsyncMaxRecords, 500);
    assert.deepEqual(o.loginRateLimit, { maxFailures: 10, windowMs: 60_000 });
    assert.equal(o.selfProtection, false);
    assert.equal(o.signing, false);
    assert.equal(o.sessionTtlSeconds, 3600);
  });

  it('every createHub() option an operator sets is reached by a flag and by its variable, with the same result', () => {
    // Driven by the two tables: OPTION_REACH (complete by its type) and the flag table with an example per row.
    const scratch = mkdtempSync(join(tmpdir(), 'moat-hub-reach-'));
    try {
      const baseline = parseCommandLine([], {});
      assert.equal(baseline.kind, 'start');
      if (baseline.kind !== 'start') return;
      const reached = new Map<string, string[]>();
      for (const [i, setting] of SETTINGS.entries()) {
        let value: string | undefined;
        if (setting.kind !== 'flag') {
          assert.ok(setting.example !== undefined, `--${setting.flag} has an example in the table`);
          value = setting.example;
          if (setting.value === 'FILE') {
            value = join(scratch, `file-${i}`);
            writeFileSync(value, setting.example);
          }
        }
        const fromFlag = parseCommandLine(value === undefined ? [`--${setting.flag}`] : [`--${setting.flag}`, value], {});
        assert.ok(setting.env, `--${setting.flag} has an environment variable`);
        const fromEnv = parseCommandLine([], { [setting.env]: value ?? '1' });
        assert.deepEqual(fromEnv, fromFlag, `${setting.env} does what --${setting.flag} does`);
        if (fromFlag.kind !== 'start') continue;
        const changed = (Object.keys({ ...baseline.options, ...fromFlag.options }) as (keyof HubOptions)[])
          .filter((key) => JSON.stringify(fromFlag.options[key]) !== JSON.stringify(baseline.options[key]));
        assert.ok(changed.length > 0, `--${setting.flag} changes an option`);
        for (const key of changed) reached.set(key, [...(reached.get(key) ?? []), setting.flag]);
      }
      for (const [key, reach] of Object.entries(OPTION_REACH)) {
        if (reach === 'command line') assert.ok(reached.has(key), `HubOptions.${key} is reachable from the command line`);
        else assert.ok(!reached.has(key), `HubOptions.${key} is marked "${reach}" but --${reached.get(key)} sets it`);
      }
      for (const key of reached.keys()) assert.ok(key in OPTION_REACH, `--${reached.get(key)} sets ${key}, which OPTION_REACH does not know`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('logs errors and warnings by default; --log-requests and --log info add request lines; --log off logs nothing', () => {
    const logger = (args: string[], env: Record<string, string> = {}) => {
      const parsed = parseCommandLine(args, env);
      return parsed.kind === 'start' ? parsed.options.logger : 'help';
    };
    assert.equal(logger([]), undefined, 'createHub\'s default: warn on stderr');
    assert.deepEqual(logger(['--log-requests']), { level: 'info' });
    assert.deepEqual(logger(['--log', 'error', '--log-requests']), { level: 'info' });
    assert.deepEqual(logger(['--log', 'debug', '--log-requests']), { level: 'debug' }, 'never raised');
    assert.equal(logger(['--log', 'off', '--log-requests']), false, 'off wins');
    assert.deepEqual(logger([], { MOAT_HUB_LOG: 'warn' }), { level: 'warn' });
  });

  it('refuses values out of range or of the wrong kind, naming the source', () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['--port', '80.5'], {}, /--port must be a whole number/],
      [[], { MOAT_HUB_RETENTION_RAW_DAYS: 'abc' }, /MOAT_HUB_RETENTION_RAW_DAYS must be a number/],
      [[], { MOAT_HUB_TRUST_PROXY: '10.0.0.1,not-an-ip' }, /MOAT_HUB_TRUST_PROXY has "not-an-ip"/],
      [[], { MOAT_HUB_SECURE_COOKIES: 'maybe' }, /MOAT_HUB_SECURE_COOKIES must be 1 or 0/],
      [['--port'], {}, /argument missing/],
      [['--database-url', 'mysql://x'], {}, /--database-url must start with postgres/],
      [['--trust-proxy', '10.0.0.0/40'], {}, /not an IP address, a CIDR range/],
      [['--log', 'loud'], {}, /--log must be one of/],
      [[], { MOAT_HUB_ADMIN_PASSWORD: 'short' }, /at least 8 characters/],
      [['--self-protection-rules', '/nonexistent/rules.json'], {}, /cannot be read: ENOENT/],
    ];
    for (const [args, env, message] of bad) assert.throws(() => parseCommandLine(args, env), message);
  });
});
