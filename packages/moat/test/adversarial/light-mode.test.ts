// Attacks on memory-light mode through the data file: someone who can hand an app a data file (a
// compromised mirror, a tampered disk, a buggy builder) crafts its light-mode tables so that a seek
// misses a blocked address, reads past the label table, or scans millions of rows per request. Each
// crafted file is either refused at load (a MoatFileError that says why; with failClosed the app then
// answers 503) or answered exactly as the clean file is; a blocked address is never let through.
// Every check is a request to a real Express app on 127.0.0.1, the client address set through a trusted
// loopback proxy header, as a client behind a proxy would be seen.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Database from 'better-sqlite3';
import { moat } from '../../src/adapters/express.js';
import { createFirewall } from '../../src/firewall/firewall.js';
import { loadDataFile } from '../../src/format/load-files.js';
import { MoatFileError } from '../../src/errors/moat-error.js';
import { close, listen, rulesFile, send } from '../adapters-helpers.js';
import { dataFileFor } from '../helpers/engine-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'moat-light-attack-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const rules = rulesFile({ block: { lists: ['tor'] } });
after(rules.cleanup);

// The blocked ranges: an IPv4 /24, a single address, and an IPv6 /64; every other address passes.
const clean = dataFileFor(join(dir, 'clean.db'), { lists: { tor: ['203.0.113.0/24', '198.51.100.7', '2001:db8:0:1::/64'], other: ['192.0.2.0/24'] } });
const BLOCKED = ['203.0.113.0', '203.0.113.128', '203.0.113.255', '198.51.100.7', '::ffff:203.0.113.9', '2001:db8:0:1::', '2001:db8:0:1:ffff:ffff:ffff:ffff'];
const PASSING = ['203.0.112.255', '203.0.114.0', '198.51.100.6', '198.51.100.8', '192.0.2.1', '2001:db8::ffff', '2001:db8:0:2::', '0.0.0.0', '::'];

/** A copy of the clean file changed by `sql` (run with the schema writable where it must be). */
function crafted(name: string, sql: string): string {
  const path = join(dir, `${name}.db`);
  copyFileSync(clean, path);
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
  return path;
}

/** Express behind a light-mode firewall over `data`; the client address comes from X-Forwarded-For sent by loopback. */
async function app(data: string): Promise<{ status: (ip: string) => Promise<number>; errors: Error[] }> {
  const errors: Error[] = [];
  const firewall = createFirewall({
    rules: rules.path, data, dataMode: 'light', failClosed: true, trustedProxies: ['loopback'], logger: false,
    onError: (e) => { errors.push(e.error); },
  });
  const server = createServer(express().use(moat(firewall)).get('/', (_req, res) => { res.send('home'); }));
  const port = await listen(server);
  after(() => close(server));
  return { status: async (ip) => (await send(port, { path: '/', headers: { 'x-forwarded-for': ip } })).status, errors };
}

async function assertAnswersLikeClean(data: string, what: string): Promise<void> {
  const target = await app(data);
  for (const ip of BLOCKED) assert.equal(await target.status(ip), 403, `${what}: ${ip} must be blocked`);
  for (const ip of PASSING) assert.equal(await target.status(ip), 200, `${what}: ${ip} must pass`);
  assert.deepEqual(target.errors, []);
}

async function assertRefused(data: string, message: RegExp): Promise<void> {
  assert.throws(() => loadDataFile(data, 'light'), (e: unknown) => e instanceof MoatFileError && message.test(e.message));
  const target = await app(data);
  for (const ip of BLOCKED) assert.equal(await target.status(ip), 503, `${ip}: not judged, so not let through (failClosed)`);
  assert.ok(target.errors.some((e) => e instanceof MoatFileError && message.test(e.message)), `startup error: ${target.errors.map((e) => e.message).join('; ')}`);
}

test('the clean file in light mode blocks the first, middle and last address of each range (IPv4, single, mapped, IPv6) and passes their neighbours', async () => {
  await assertAnswersLikeClean(clean, 'clean');
});

test('ranges_v4 rewritten in descending order (unsorted on disk) still blocks 203.0.113.0–255: the table is keyed by start, so order cannot be faked', async () => {
  const path = crafted('unsorted', `
    CREATE TABLE shuffled AS SELECT start, label FROM ranges_v4;
    DROP TABLE ranges_v4;
    CREATE TABLE ranges_v4 (start INTEGER PRIMARY KEY, label INTEGER NOT NULL);
    INSERT INTO ranges_v4 SELECT start, label FROM shuffled ORDER BY start DESC;
    DROP TABLE shuffled;`);
  await assertAnswersLikeClean(path, 'unsorted');
});

test('a label id far past the label table (2,000,000,000 on the blocked /24) is refused at load, never read past the labels; the blocked address gets 503, not 200', async () => {
  await assertRefused(crafted('huge-label', 'UPDATE ranges_v4 SET label = 2000000000 WHERE label >= 0'), /ranges_v4 has \d+ row\(s\) whose label names no data label/);
  await assertRefused(crafted('negative-label', 'UPDATE ranges_v6 SET label = -2 WHERE label = -1'), /ranges_v6 has \d+ row\(s\) whose label/);
});

test('labels of the wrong type (text, a fraction, NULL, a blob) are refused at load', async () => {
  const retyped = (name: string, value: string) => crafted(name, `
    CREATE TABLE copy AS SELECT start, label FROM ranges_v4;
    DROP TABLE ranges_v4;
    CREATE TABLE ranges_v4 (start INTEGER PRIMARY KEY, label);
    INSERT INTO ranges_v4 SELECT start, CASE WHEN label >= 0 THEN ${value} ELSE label END FROM copy;
    DROP TABLE copy;`);
  for (const [name, value] of [['text', "'tor'"], ['fraction', '0.5'], ['null', 'NULL'], ['blob', "x'00'"]]) {
    await assertRefused(retyped(name, value), /ranges_v4 has \d+ row\(s\) whose label names no data label \(out of range, NULL or not an integer\)/);
  }
});

test('ranges_v4 without its key (every lookup a scan of the table: a request-time denial of service) is refused at load', async () => {
  const path = crafted('no-key', `
    CREATE TABLE copy AS SELECT start, label FROM ranges_v4;
    DROP TABLE ranges_v4;
    CREATE TABLE ranges_v4 (start INTEGER, label INTEGER NOT NULL);
    INSERT INTO ranges_v4 SELECT start, label FROM copy;
    DROP TABLE copy;`);
  await assertRefused(path, /a light-mode lookup would not be a single seek .*SCAN.*the table's key is missing or wrong/);
});

test('a file without one of the light tables (as built by an older Moat) is read through the older ip_ranges seek and blocks like the clean file', async () => {
  await assertAnswersLikeClean(crafted('no-v6', 'DROP TABLE ranges_v6'), 'no ranges_v6');
  await assertAnswersLikeClean(crafted('older-layout', 'DROP TABLE ranges_v4; DROP TABLE ranges_v6'), 'older layout');
});
