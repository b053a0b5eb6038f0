// The demo's data_subscriptions file, built with the `moat` CLI from the CC0 country ranges that ship as
// an npm package, plus a small Tor exit list, in both layouts the hub serves (Moat and Wafris).

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataFile, parseIpInto } from 'moat';

/** The addresses the demo's Tor persona uses; the `tor` list holds them (a few real exit-node-style hosts). */
export const DEMO_TOR_EXITS = ['185.220.101.4', '185.220.101.35', '204.8.96.81', '2a0b:f4c2::24'];

export interface DemoData {
  hash: string;
  ranges: number;
  bytes: number;
  /** ISO country of an address, for the hub's top-countries table. */
  countryOf(ip: string): string | null;
}

const CLI = join(import.meta.dirname, '..', 'packages', 'moat', 'bin', 'moat.js');

export function buildDemoData(dir: string): DemoData {
  mkdirSync(join(dir, 'moat'), { recursive: true });
  mkdirSync(join(dir, 'wafris'), { recursive: true });
  const torFile = join(dir, 'tor-exits.txt');
  writeFileSync(torFile, `# demo Tor exit list\n${DEMO_TOR_EXITS.join('\n')}\n`);
  const out = join(dir, 'moat', 'data-demo.db');
  const result = spawnSync(process.execPath, [
    CLI, 'data', 'build', '--country', 'default', '--list', `tor=${torFile}`,
    '--wafris', join(dir, 'wafris', 'data-demo.db'), '--json', '-o', out,
  ], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`moat data build failed: ${result.stderr.trim() || result.stdout.trim()}`);
  const built = JSON.parse(result.stdout) as { hash: string; ranges: number; bytes: number };

  const data = loadDataFile(out, 'light');
  const words = new Uint32Array(4);
  return {
    hash: built.hash,
    ranges: built.ranges,
    bytes: built.bytes,
    countryOf(ip: string) {
      const family = parseIpInto(ip, words);
      if (family !== 4 && family !== 6) return null;
      const label = data.table.lookupParsed(family, words);
      return label < 0 ? null : data.labels[label]?.country ?? null;
    },
  };
}
