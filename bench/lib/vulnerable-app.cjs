// A deliberately vulnerable Express app for the attack side-by-side (bench/attacks-zen.ts), protected by
// Zen by Aikido (`zen`), by Moat with attack detection (`moat <rules file>`), or by nothing (`plain`).
// CommonJS run by plain node: Zen only hooks CommonJS requires on Node 20 and must be required first.
// Every sink is real but harmless:
//   GET /sqli?q=    better-sqlite3 (in memory), the value concatenated into a SELECT (also /sqli-dq, /sqli-num)
//   GET /shell?host= child_process.exec('echo ' + host) with /bin/true as the shell: Zen inspects the
//                   command string, nothing is ever interpreted or run
//   GET /file?name=  fs.readFileSync of a path joined under a temporary folder (reads only)
//   GET /fetch?url=  fetch(url), only when the URL's host is a loopback address (127.0.0.0/8, ::1):
//                   the bench sends no other targets, and this guard makes sure no request leaves the machine
//   GET /echo?msg=   the value in HTML (XSS has no server-side sink: Zen does not look at it)
// A sink that Zen stops throws "Zen has blocked …": answered 403 with `blocked-by: zen`. Moat answers 403 itself.
//
//   AIKIDO_BLOCK=true node bench/lib/vulnerable-app.cjs zen
//   node bench/lib/vulnerable-app.cjs moat /tmp/rules.moat
'use strict';

const mode = process.argv[2];
if (mode === 'zen') require('@aikidosec/firewall');

const { exec } = require('node:child_process');
const { mkdtempSync, writeFileSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const http = require('node:http');
const express = require('express');
const Database = require('better-sqlite3');

const folder = mkdtempSync(join(tmpdir(), 'moat-vulnerable-'));
writeFileSync(join(folder, 'readme.txt'), 'hello');
const db = new Database(':memory:');
db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('shoe'), ('hat')");

function zenBlocked(error) {
  return error instanceof Error && /Zen has blocked/i.test(error.message);
}

function isLoopback(hostname) {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || h === '::ffff:127.0.0.1' || h === '::ffff:7f00:1';
}

async function main() {
  const app = express();
  if (mode === 'zen') require('@aikidosec/firewall').addExpressMiddleware(app);
  if (mode === 'moat') {
    const { moat } = await import('moat-waf/adapters/express');
    app.use(moat({ rules: process.argv[3], logger: false }));
  }
  const answer = (res, fn) => {
    try {
      const out = fn();
      if (out && typeof out.then === 'function') {
        out.then((text) => res.send(String(text)), (error) => fail(res, error));
      } else res.send(String(out));
    } catch (error) {
      fail(res, error);
    }
  };
  const fail = (res, error) => {
    if (zenBlocked(error)) res.status(403).set('blocked-by', 'zen').send('blocked');
    else res.status(200).send(`error: ${String(error && error.message).slice(0, 80)}`);
  };
  // The three places a value lands in SQL: a single-quoted string, a double-quoted one (SQLite reads an
  // unknown double-quoted identifier as a string), a number.
  app.get('/sqli', (req, res) => answer(res, () => JSON.stringify(db.prepare(`SELECT * FROM items WHERE name = '${String(req.query.q)}'`).all())));
  app.get('/sqli-dq', (req, res) => answer(res, () => JSON.stringify(db.prepare(`SELECT * FROM items WHERE name = "${String(req.query.q)}"`).all())));
  app.get('/sqli-num', (req, res) => answer(res, () => JSON.stringify(db.prepare(`SELECT * FROM items WHERE id = ${String(req.query.q)}`).all())));
  app.get('/shell', (req, res) => answer(res, () => new Promise((resolve, reject) => {
    try {
      exec(`echo ${String(req.query.host)}`, { shell: '/bin/true', timeout: 2000 }, () => resolve('ran'));
    } catch (error) {
      reject(error);
    }
  })));
  app.get('/file', (req, res) => answer(res, () => readFileSync(join(folder, String(req.query.name)), 'utf8').slice(0, 20)));
  app.get('/fetch', (req, res) => answer(res, async () => {
    const url = new URL(String(req.query.url));
    if (!isLoopback(url.hostname)) return 'not fetched (not loopback)';
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) }).catch((error) => {
      if (zenBlocked(error) || zenBlocked(error && error.cause)) throw zenBlocked(error) ? error : error.cause;
      return null;
    });
    return response ? `status ${response.status}` : 'unreachable';
  }));
  app.get('/echo', (req, res) => res.type('html').send(`<p>${String(req.query.msg)}</p>`));
  const server = http.createServer(app);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('disconnect', () => {
    rmSync(folder, { recursive: true, force: true });
    process.exit(0);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
