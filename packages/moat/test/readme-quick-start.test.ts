// README's "Standalone quick start", run as a new user runs it: every line of its shell block verbatim
// (`cd` included) through `sh` and `npx`, in a scratch copy of the repository's example files, so the
// README and what the commands do cannot drift apart. `npx` finds the bin the way it does in a checkout
// (node_modules/.bin of the nearest project), here pointing at the client's current sources; it runs
// offline, so a missing bin fails instead of fetching a package of the same name from the registry.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runProcess, transpileClient } from './helpers/cli-build.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const EXAMPLES = path.join(ROOT, 'examples/quick-start');

/** The text of the section under `heading`, up to the next `## ` heading. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const end = markdown.indexOf('\n## ', start + heading.length + 2);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of one language in `markdown`, in order. */
function codeBlocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm'))].map((m) => m[1]);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return runProcess('sh', ['-c', line], { cwd, env });
}

/**
 * A scratch "checkout": the example files at their repository paths and node_modules/.bin holding the
 * client's bins (from its package.json), each a copy of the committed bin file whose `../dist` is the
 * freshly transpiled source.
 */
function scratchCheckout(): { root: string; cleanup: () => void } {
  const client = transpileClient();
  fs.symlinkSync('src', path.join(client.dir, 'dist'));
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages/moat/package.json'), 'utf8')) as { bin: Record<string, string> };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'moat-readme-'));
  fs.mkdirSync(path.join(root, 'node_modules/.bin'), { recursive: true });
  for (const [name, file] of Object.entries(manifest.bin)) {
    const copy = path.join(client.dir, file);
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'packages/moat', file), copy);
    fs.chmodSync(copy, 0o755);
    fs.symlinkSync(copy, path.join(root, 'node_modules/.bin', name));
  }
  fs.cpSync(EXAMPLES, path.join(root, 'examples/quick-start'), { recursive: true });
  return {
    root,
    cleanup: () => {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(client.dir, { recursive: true, force: true });
    },
  };
}

/** The environment of a user's shell: no npm lifecycle variables (they would point npx at this checkout), no registry. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_/i.test(k) || k === 'MOAT_DEBUG') delete env[k];
  return { ...env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

const rulesOf = (text: string) => text.trim().split('\n').length;

/**
 * What each command of the block must print. A command is recognised by what follows `npx <bin> `;
 * a README command no check knows fails the test, so a new command comes with its check.
 */
const CHECKS: { command: RegExp; check: (r: Run, cwd: string, seen: Map<string, unknown>) => void }[] = [
  {
    command: /^compile rules\.json -o rules\.db\b/,
    check: (r, cwd) => {
      assert.match(r.stdout, /^compiled 13 rules into rules\.db \(/);
      assert.ok(fs.existsSync(path.join(cwd, 'rules.db')));
    },
  },
  {
    command: /^data build /,
    check: (r, cwd) => {
      assert.match(r.stdout, /^country\s+country\s+6 ranges/m);
      assert.match(r.stdout, /^list\s+tor\s+3 ranges/m);
      assert.match(r.stdout, /wrote data\.db: \d+ ranges/);
      assert.ok(fs.existsSync(path.join(cwd, 'data.db')));
    },
  },
  {
    command: /^check .*--ip 198\.51\.100\.4 --path \/wp-admin --json/,
    check: (r) => {
      const d = JSON.parse(r.stdout);
      assert.deepEqual([d.treatment, d.category, d.rule], ['Blocked', 'bc', '198.51.100.0/24']);
    },
  },
  {
    command: /^rules add .* block ip 192\.0\.2\.55 .*--id scanner/,
    check: (r) => assert.match(r.stdout, /^added scanner\s+block\s+ip\s+192\.0\.2\.55\s+\("scanner"\)/),
  },
  {
    command: /^rules add .* rateLimit '\/api\/\*' --limit 100 --window 1m/,
    check: (r) => assert.match(r.stdout, /^added rl-[0-9a-f]+\s+block\s+rateLimit\s+\/api\/\*\s+\(any 100\/60s\)/),
  },
  {
    command: /^rules list /,
    check: (r) => {
      assert.equal(rulesOf(r.stdout), 15, 'the 13 compiled rules and the two added');
      assert.match(r.stdout, /^scanner\s+block\s+ip\s+192\.0\.2\.55/m);
      assert.match(r.stdout, /rateLimit\s+\/api\/\*/);
    },
  },
  {
    command: /^rules remove .* scanner$/,
    check: (r) => assert.match(r.stdout, /^removed 1 rule\(s\); 14 left/),
  },
  {
    command: /^inspect rules\.db\b/,
    check: (r) => {
      assert.match(r.stdout, /^format\s+moat$/m);
      assert.match(r.stdout, /^rules\s+14$/m);
      assert.match(r.stdout, /^hash\s+[0-9a-f]{64}$/m);
    },
  },
  {
    command: /^check .*--ndjson < requests\.ndjson/,
    check: (r) => {
      const decisions = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(decisions.map((d) => d.category), ['passed', 'ai', 'bc', 'bctry', 'brep', 'bu', 'bp', 'bparam', 'bm']);
    },
  },
  {
    command: /^wafris export --rules rules\.db -o custom_rules\.db/,
    check: (r, _cwd, seen) => {
      const m = /^wrote custom_rules\.db \(Wafris custom_rules\): (\d+) rules/.exec(r.stdout);
      assert.ok(m, r.stdout);
      // The list rule and the prefix rate limit have no Wafris form; each is named on stderr.
      assert.equal(Number(m[1]), 12);
      assert.equal(r.stderr.match(/^not exported: /gm)?.length, 2, r.stderr);
      seen.set('exported', Number(m[1]));
    },
  },
  {
    command: /^inspect custom_rules\.db\b/,
    check: (r, _cwd, seen) => {
      assert.match(r.stdout, /^format\s+wafris$/m);
      assert.match(r.stdout, new RegExp(`^rules\\s+${seen.get('exported')}$`, 'm'), 'inspect counts the rules the export reported');
    },
  },
];

const scratch = scratchCheckout();
after(scratch.cleanup);

test('the JSON rules shown in the quick start are the example rules.json', () => {
  const [json] = codeBlocks(section(README, '## Standalone quick start'), 'json');
  assert.deepEqual(JSON.parse(json), JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'rules.json'), 'utf8')));
});

test("every command of README's standalone quick start runs verbatim and prints what it should", { timeout: 300_000 }, async () => {
  const [block] = codeBlocks(section(README, '## Standalone quick start'), 'sh');
  assert.ok(block, 'the quick start has a shell block');
  const lines = block.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const env = userEnv();
  const seen = new Map<string, unknown>();
  let cwd = scratch.root;
  let ran = 0;
  for (const line of lines) {
    const cd = /^cd\s+(\S+)\s*$/.exec(line);
    if (cd) {
      cwd = path.resolve(cwd, cd[1]);
      assert.ok(fs.statSync(cwd).isDirectory(), `${line}: the folder exists in a checkout`);
      continue;
    }
    const npx = /^npx\s+\S+\s+(.*)$/.exec(line.replace(/\s+#.*$/, '').trim());
    assert.ok(npx, `${line}: every quick-start command runs through npx`);
    const known = CHECKS.filter((c) => c.command.test(npx[1]));
    assert.equal(known.length, 1, `${line}: exactly one check knows what this command prints`);
    const r = await sh(line, cwd, env);
    assert.equal(r.code, 0, `${line}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^moat-waf: /m, `${line}: no error line`);
    known[0].check(r, cwd, seen);
    ran++;
  }
  assert.equal(ran, CHECKS.length, 'every check ran: the README still shows each of these commands');
});
