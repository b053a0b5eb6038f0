// The demo's data_subscriptions file, built with the `moat-waf` CLI from the CC0 country ranges that ship as
// an npm package, plus a small Tor exit list, in both layouts the hub serves (Moat and Wafris).
// Built once per demo folder (about 20 s); later starts reuse it.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataFile } from 'moat-waf';
import { parseIpInto } from 'moat-waf/ip';

/** The addresses the demo's Tor persona uses; the `tor` list holds them (a few real exit-node-style hosts). */
export const DEMO_TOR_EXITS = ['185.220.101.4', '185.220.101.35', '204.8.96.81', '2a0b:f4c2::24'];

export interface DemoData {
  /** False when an earlier start's build was reused. */
  built: boolean;
  hash: string;
  ranges: number;
  bytes: number;
  /** ISO country of an address, for the hub's top-countries table. */
  countryOf(ip: string): string | null;
}

const CLI = join(import.meta.dirname, '..', 'packages', 'moat', 'bin', 'moat.js');

export function buildDemoData(dir: string): DemoData {
  const out = join(dir, 'moat', 'data-demo.db');
  const wafris = join(dir, 'wafris', 'data-demo.db');
  // Written last, so a build cut short is built again rather than half reused.
  const stamp = join(dir, 'built.json');
  let built: { hash: string; ranges: number; bytes: number } | undefined;
  if (existsSync(stamp) && existsSync(out) && existsSync(wafris)) {
    try { built = JSON.parse(readFileSync(stamp, 'utf8')) as typeof built; } catch { built = undefined; }
  }
  const reused = built !== undefined;
  if (!built) {
    mkdirSync(join(dir, 'moat'), { recursive: true });
    mkdirSync(join(dir, 'wafris'), { recursive: true });
    const torFile = join(dir, 'tor-exits.txt');
    writeFileSync(torFile, `# demo Tor exit list\n${DEMO_TOR_EXITS.join('\n')}\n`);
    const result = spawnSync(process.execPath, [
      CLI, 'data', 'build', '--country', 'default', '--list', `tor=${torFile}`,
      '--wafris', wafris, '--json', '-o', out,
    ], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`moat-waf data build failed: ${result.stderr.trim() || result.stdout.trim()}`);
    const parsed = JSON.parse(result.stdout) as { hash: string; ranges: number; bytes: number };
    built = { hash: parsed.hash, ranges: parsed.ranges, bytes: parsed.bytes };
    writeFileSync(stamp, JSON.stringify(built));
  }

  const data = loadDataFile(out, 'light');
  const words = new Uint32Array(4);
  return {
    built: !reused,
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
