// Attack detection where WebAssembly cannot run (`node --jitless`, which some hardened hosts use): long
// form fields are then searched natively instead of by the SIMD byte scan. A node:http app in a process
// of its own, under --jitless, must block ~60 KiB forms with an attack at their start, middle or end and
// pass the same forms without it; an app in a process where WebAssembly runs gives the same answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ROOT } from './helpers/web-runtime-conformance.js';
import { rulesFile, send } from './adapters-helpers.js';

const FIXTURE = 'packages/moat/test/fixtures/node-runtime-server.ts';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Starts the fixture's node:http server with `flags`; resolves its port and its banner. */
function start(flags: string[], rules: string): Promise<{ port: number; banner: string }> {
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', FIXTURE], {
    cwd: ROOT, env: { ...process.env, PORT: '0', MOAT_RULES: rules, MOAT_SERVER: 'node' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => { child.kill(); });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(l));
      if (line !== undefined) resolve({ port: Number(/:(\d+)$/.exec(line.trim())![1]), banner: line });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the fixture exited (${code}):\n${output}`)));
  });
}

// Within the default body limit (64 KiB) with an attack added: what lies past it is not read by either.
const PROSE = new URLSearchParams({ v: "I don't think the garden, my friend, is quiet? We walk to market in the evening. ".repeat(800) }).toString().slice(2, 60_000);
// Markup and a climb out of the root are attacks wherever they stand. A quote-closing SQL injection is one
// only where the value starts, and a shell command only where its line can parse (the prose's apostrophes
// leave a quote open after it): those are checked for the same answer with and without the scan.
const ATTACKS: [string, readonly number[], 'blocked' | 'same'][] = [
  ["x' UNION SELECT password FROM users-- ", [0], 'blocked'],
  ["x' UNION SELECT password FROM users-- ", [0.5, 1], 'same'],
  ['<img src=x onerror=alert(1)>', [0, 0.5, 1], 'blocked'],
  ['../../../../etc/passwd', [0, 0.5, 1], 'blocked'],
  ['; cat /etc/passwd', [0, 0.5, 1], 'same'],
];

function forms(): { body: string; expect: 'blocked' | 'passed' | 'same'; name: string }[] {
  const out: { body: string; expect: 'blocked' | 'passed' | 'same'; name: string }[] = [];
  for (const [attack, places, expect] of ATTACKS) {
    const encoded = encodeURIComponent(attack);
    for (const place of places) {
      // Cut at a whole escape, so the prose around stays valid.
      let cut = Math.floor(PROSE.length * place);
      while (cut > 0 && PROSE[cut - 1] === '%') cut--;
      while (cut > 1 && PROSE[cut - 2] === '%') cut -= 2;
      out.push({ name: `${attack} at ${cut}`, expect, body: `note=${PROSE.slice(0, cut)}${encoded}${PROSE.slice(cut)}&page=2` });
    }
  }
  out.push({ name: 'the prose alone', expect: 'passed', body: `note=${PROSE}&page=2` });
  out.push({ name: 'the prose with a quote before it', expect: 'passed', body: `note=${encodeURIComponent("it's")}${PROSE}&page=2` });
  return out;
}

test('under --jitless (no WebAssembly) long forms are judged by native searches, as with the byte scan', async () => {
  const rules = rulesFile({ attacks: 'block' });
  after(() => rules.cleanup());
  const jitless = await start(['--jitless'], rules.path);
  assert.match(jitless.banner, /no WebAssembly\)/, jitless.banner);
  const wasm = await start([], rules.path);
  assert.match(wasm.banner, /, WebAssembly\)/, wasm.banner);
  let blocked = 0;
  for (const form of forms()) {
    const without = await send(jitless.port, { method: 'POST', path: '/form', headers: FORM, body: form.body });
    const withScan = await send(wasm.port, { method: 'POST', path: '/form', headers: FORM, body: form.body });
    if (form.expect !== 'same') assert.equal(without.status, form.expect === 'blocked' ? 403 : 200, `--jitless: ${form.name}`);
    assert.equal(withScan.status, without.status, form.name);
    if (without.status === 403) blocked++;
  }
  assert.ok(blocked >= 7, `${blocked} forms blocked`);
});
