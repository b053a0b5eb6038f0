// Light mode reads labels from the file on demand (data/light-labels.ts): the same answers as memory mode
// over a file with thousands of country/ASN/list labels, a cache that stays within its slots, and label
// rows that are malformed refused at open, or, changed after it, a counted engine error (fail open).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { copyFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import { buildDataFile } from '../src/data/build-data.js';
import type { AsnRow } from '../src/data/build-data.js';
import { loadDataFile, MoatError, MoatFileError, writeRulesFile } from '../src/index.js';
import { LightLabels } from '../src/data/light-labels.js';
import { loadMoatData } from '../src/data/read-data.js';
import { loadRulesFile } from '../src/format/load-files.js';
import { Engine } from '../src/engine/engine.js';
import { withMoat } from '../src/adapters/node.js';
import type { MoatErrorEvent } from '../src/firewall/options.js';
import { parseIpInto } from '../src/ip/index.js';
import type { IpRange } from '../src/ip/index.js';
import type { CountryRow } from '../src/data/importers/import-result.js';
import { block, engineFor, makeTmpDir, removeDir, v4Text } from './helpers/engine-kit.js';
import { close, listen, send } from './adapters-helpers.js';
import { editDatabaseFile } from './helpers/data-swap-kit.js';

const dir = makeTmpDir();
after(() => removeDir(dir));

/** A deterministic generator, so a failure names the same file every run. */
function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

const COUNTRIES = ['US', 'DE', 'FR', 'CN', 'RU', 'BR', 'IN', 'JP', 'GB', 'KP', 'NL', 'SE', 'IT', 'ES', 'CA', 'AU', null];
const summary = (name: string, kind: 'country' | 'asn' | 'list', ranges: number) => ({ name, kind, ranges, invalidLines: 0 });

/**
 * Country ranges tiling IPv4 and part of IPv6, ASN ranges over them (about 2,000 numbers), three lists:
 * a few thousand labels, as a country + ASN file has, only fewer. 127.0.0.0/8 is Germany, AS64500.
 */
function buildRealish(file: string): void {
  const next = random(15);
  const countries: CountryRow[] = [];
  const asns: AsnRow[] = [];
  let start = 0n;
  while (start < 0x1_0000_0000n) {
    const end = start + BigInt(1 + Math.floor(next() * 2_000_000));
    const last = end >= 0x1_0000_0000n ? 0xffff_ffffn : end - 1n;
    countries.push({ range: { family: 4, start, end: last }, country: COUNTRIES[Math.floor(next() * COUNTRIES.length)]! });
    start = last + 1n;
  }
  for (let i = 0; i < 6000; i++) {
    const s = BigInt(Math.floor(next() * 0xffff_0000));
    asns.push({ range: { family: 4, start: s, end: s + BigInt(Math.floor(next() * 500_000)) }, asn: `AS${1 + Math.floor(next() * 2000)}` });
  }
  for (let i = 0; i < 300; i++) {
    const s = (0x2001n << 112n) + (BigInt(i) << 96n);
    countries.push({ range: { family: 6, start: s, end: s + (1n << 90n) }, country: COUNTRIES[i % COUNTRIES.length]! });
    asns.push({ range: { family: 6, start: s, end: s + (1n << 80n) }, asn: `AS${3000 + i}` });
  }
  countries.push({ range: { family: 4, start: 0x7f00_0000n, end: 0x7fff_ffffn }, country: 'DE' });
  asns.push({ range: { family: 4, start: 0x7f00_0000n, end: 0x7fff_ffffn }, asn: 'AS64500' });
  const list = (name: string, n: number): { name: string; ranges: IpRange[]; summary: ReturnType<typeof summary> } => {
    const ranges: IpRange[] = [];
    for (let i = 0; i < n; i++) {
      const s = BigInt(Math.floor(next() * 0xffff_0000));
      ranges.push({ family: 4, start: s, end: s + BigInt(Math.floor(next() * 100_000)) });
    }
    return { name, ranges, summary: summary(name, 'list', n) };
  };
  buildDataFile({
    countries: { rows: countries, summary: summary('c', 'country', countries.length) },
    asns: { rows: asns, summary: summary('a', 'asn', asns.length) },
    lists: [list('tor', 300), list('drop', 300), list('aws', 300)],
  }, file);
}

const realish = path.join(dir, 'realish.db');
buildRealish(realish);

/** Random addresses of both families, some inside the IPv6 ranges, the same every run. */
function addresses(n: number, seed: number): string[] {
  const next = random(seed);
  // Every 7th in the IPv6 ranges: 2001:<i>::/32 holds the i-th pair (buildRealish).
  return Array.from({ length: n }, (_, i) => (i % 7 === 6
    ? `2001:${Math.floor(next() * 300).toString(16)}::${Math.floor(next() * 65536).toString(16)}`
    : v4Text(BigInt(Math.floor(next() * 2 ** 32)))));
}

test('light mode reads the same label as memory mode for every address, through label() and through labels[]', () => {
  const memory = loadDataFile(realish, 'memory');
  const light = loadDataFile(realish, 'light');
  try {
    assert.ok(memory.labels.length > 3000, `a file of many labels (${memory.labels.length})`);
    assert.equal(light.labels.length, memory.labels.length);
    assert.deepEqual(light.listNames, memory.listNames);
    assert.equal(typeof light.label, 'function', 'light mode hands out label()');
    assert.equal(memory.label, undefined, 'memory mode indexes its labels');
    const words = new Uint32Array(4);
    let withAsn = 0;
    let withList = 0;
    for (const ip of addresses(20_000, 7)) {
      const family = parseIpInto(ip, words) as 4 | 6;
      assert.notEqual(family, 0, ip);
      const id = memory.table.lookupParsed(family, words);
      assert.equal(light.table.lookupParsed(family, words), id, ip);
      if (id < 0) continue;
      const expected = memory.labels[id]!;
      assert.deepEqual(light.label!(id), expected, ip);
      assert.deepEqual(light.labels[id], expected, ip);
      if (expected.asn !== null) withAsn++;
      if (expected.lists.length > 0) withList++;
    }
    assert.ok(withAsn > 1000 && withList > 10, `the addresses reach ASN (${withAsn}) and list (${withList}) labels`);
    assert.equal(light.label!(-1), undefined);
    assert.equal(light.label!(memory.labels.length), undefined);
    assert.equal(light.labels[memory.labels.length], undefined);
    assert.deepEqual(light.labels.map((l) => l.country), memory.labels.map((l) => l.country), 'the view iterates like an array');
  } finally {
    light.close();
    memory.close();
  }
});

test('engines in light and memory mode decide alike on country, continent, ASN and list rules', async () => {
  const rules = [block('country', 'CN'), block('country', 'continent:SA'), block('asn', 'AS7'), block('asn', 'AS1500'), block('list', 'tor'), block('list', 'aws')];
  const memory = engineFor(dir, rules, { data: realish, dataMode: 'memory' });
  const light = engineFor(dir, rules, { data: realish, dataMode: 'light' });
  try {
    const blocked = new Map<string, number>();
    for (const ip of addresses(20_000, 11)) {
      const request = { ip, method: 'GET', host: 'example.com', path: '/', userAgent: 'curl/8' };
      const expected = memory.evaluate(request);
      assert.deepEqual(light.evaluate(request), expected, ip);
      if (expected.treatment === 'Blocked') blocked.set(`${expected.category} ${expected.rule}`, (blocked.get(`${expected.category} ${expected.rule}`) ?? 0) + 1);
    }
    for (const rule of ['bctry CN', 'bctry continent:SA', 'brep AS1500', 'brep tor', 'brep aws']) assert.ok((blocked.get(rule) ?? 0) > 0, `some address is blocked by ${rule}: ${[...blocked.keys()].join(', ')}`);
  } finally {
    light.close();
    memory.close();
  }
});

test('the label cache stays within its slots, keeps a label read twice, and counts what it replaces', () => {
  const db = new Database(realish, { readonly: true });
  const memory = loadDataFile(realish, 'memory');
  try {
    const labels = new LightLabels(db, 64);
    const n = memory.labels.length;
    // A label read once is not kept (most are, under varied traffic); read again, it is.
    labels.label(5);
    labels.label(5);
    assert.equal(labels.reads, 2);
    for (let i = 0; i < 1000; i++) assert.deepEqual(labels.label(5), memory.labels[5]);
    assert.equal(labels.reads, 2, 'a cached label costs no read');
    // Every label read twice in a row, so each is cached and takes a slot another held: 64 slots for thousands.
    for (let id = 0; id < n; id++) {
      for (let k = 0; k < 2; k++) assert.deepEqual(labels.label(id), memory.labels[id], `label ${id}`);
    }
    assert.equal(labels.cached, 64);
    assert.equal(labels.evictions, n - 64, 'every label after the first 64 replaced one (label 5 was cached already)');
    assert.equal(labels.reads, 2 + 2 * (n - 1), 'read on its first and second use, then from the cache (label 5: cached)');
    const reads = labels.reads;
    for (let id = n - 64; id < n; id++) labels.label(id);
    assert.equal(labels.reads, reads, 'the last 64 are the ones cached');
    assert.throws(() => new LightLabels(db, 100), /power of two/);
  } finally {
    memory.close();
    db.close();
  }
});

/** A copy of the real-ish file with `edit` applied to it through a writable connection. */
function edited(name: string, edit: (db: Database.Database) => void): string {
  const file = path.join(dir, `${name}.db`);
  copyFileSync(realish, file);
  editDatabaseFile(file, edit);
  return file;
}

/** data_labels without its constraints, so a row can hold what the schema would refuse. */
function looseLabels(db: Database.Database, key: 'rowid' | 'index' | 'none' = 'rowid'): void {
  db.exec(`ALTER TABLE data_labels RENAME TO old_labels;
    CREATE TABLE data_labels (id ${key === 'rowid' ? 'INTEGER PRIMARY KEY' : ''}, country, asn, lists);
    ${key === 'index' ? 'CREATE UNIQUE INDEX data_labels_id ON data_labels (id);' : ''}
    INSERT INTO data_labels SELECT * FROM old_labels; DROP TABLE old_labels;`);
}

test('attack: a malformed label row is refused when the file opens in light mode, with MOAT_ERR_FILE_CORRUPT', () => {
  const cases: [string, (db: Database.Database) => void][] = [
    ['lists NULL', (db) => { looseLabels(db); db.exec('UPDATE data_labels SET lists = NULL WHERE id = 3'); }],
    ['lists a number', (db) => { looseLabels(db); db.exec('UPDATE data_labels SET lists = 42 WHERE id = 3'); }],
    ['lists not JSON', (db) => db.exec("UPDATE data_labels SET lists = '[\"tor\"' WHERE id = 3")],
    ['lists an object', (db) => db.exec(`UPDATE data_labels SET lists = '{"a":1}' WHERE id = 3`)],
    ['lists of numbers', (db) => db.exec("UPDATE data_labels SET lists = '[1,2]' WHERE id = 3")],
    ['lists huge', (db) => db.prepare('UPDATE data_labels SET lists = ? WHERE id = 3').run(JSON.stringify(Array.from({ length: 5000 }, (_, i) => `l${i}`)))],
    ['country a blob', (db) => { looseLabels(db); db.exec('UPDATE data_labels SET country = randomblob(64) WHERE id = 3'); }],
    ['country a number', (db) => { looseLabels(db); db.exec('UPDATE data_labels SET country = 7 WHERE id = 3'); }],
    ['country huge', (db) => db.exec("UPDATE data_labels SET country = hex(zeroblob(500000)) WHERE id = 3")],
    ['asn huge', (db) => db.exec("UPDATE data_labels SET asn = hex(zeroblob(50)) WHERE id = 3")],
    ['a label missing', (db) => db.exec('DELETE FROM data_labels WHERE id = 3')],
    ['ids from 1', (db) => db.exec('UPDATE data_labels SET id = id + 1000000; UPDATE data_labels SET id = id - 999999')],
    ['ids not integers', (db) => { looseLabels(db, 'index'); db.exec("UPDATE data_labels SET id = 'x' || id WHERE id = 3"); }],
    ['no key on id (a scan per label)', (db) => looseLabels(db, 'none')],
  ];
  for (const [name, edit] of cases) {
    const file = edited(name.replace(/\W+/g, '-'), edit);
    assert.throws(() => loadDataFile(file, 'light'), (e: unknown) => e instanceof MoatFileError && e.code === 'MOAT_ERR_FILE_CORRUPT', name);
  }
  // What the cases take apart is sound: the copy opens unedited, and with the id keyed by an index.
  loadDataFile(edited('unedited', () => {}), 'light').close();
  loadDataFile(edited('keyed-by-index', (db) => looseLabels(db, 'index')), 'light').close();
});

test('attack: a label row changed after the file opened is a counted engine error (the request fails open), never a crash', async () => {
  const file = edited('changed-later', () => {});
  const db = new Database(file); // writable and unlocked, so the test can change the file under the engine
  const data = loadMoatData(db, file, 'light');
  const rules = path.join(dir, 'rules-country.db');
  writeRulesFile([block('country', 'KP')], rules);
  const engine = new Engine({ rules: loadRulesFile(rules), data });
  const errors: MoatErrorEvent[] = [];
  const handler = withMoat((_req: IncomingMessage, res: ServerResponse) => res.end('hello'), { engine, onError: (e) => errors.push(e), logger: false, trustedProxies: [] });
  const server = createServer(handler);
  const port = await listen(server);
  try {
    const words = new Uint32Array(4);
    const id = data.table.lookupParsed(parseIpInto('127.0.0.1', words) as 4, words);
    assert.ok(id >= 0, '127.0.0.1 has a label');
    db.prepare("UPDATE data_labels SET lists = '[\"never-seen\"]' WHERE id = ?").run(id);
    const res = await send(port);
    assert.equal(res.status, 200, 'failed open');
    assert.equal(handler.firewall.stats().engineErrors, 1);
    assert.deepEqual([errors[0]?.kind, errors[0]?.code], ['engine', 'MOAT_ERR_ENGINE']);
    assert.equal((errors[0]?.error as MoatError).code, 'MOAT_ERR_FILE_CORRUPT', 'the engine said what is wrong');
  } finally {
    await close(server);
    handler.firewall.close();
    engine.close();
  }
});
