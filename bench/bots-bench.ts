/**
 * Verified-bot cost (issue 19): nanoseconds per request through Engine.evaluate with bot settings on
 * versus the same rules without them, in paired rounds (each round runs both back to back, the added
 * cost is taken per round). Cases: a browser user agent the memo knows (most traffic), browser user
 * agents from a pool larger than the memo (each one scanned and asked of isbot), and Googlebot from
 * inside and outside Google's ranges (one data-file seek to verify). Settings as an operator would set
 * them: search engines allowed, AI crawlers and spoofers blocked; one case adds `unknown: monitor`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../packages/moat/src/engine/engine.js';
import { parseRulesSource } from '../packages/moat/src/rules/document.js';
import { writeRulesFile } from '../packages/moat/src/format/write-rules.js';
import { loadRulesFile, loadDataFile } from '../packages/moat/src/format/load-files.js';
import { buildDataFile } from '../packages/moat/src/data/build-data.js';
import { parseRange } from '../packages/moat/src/ip/range.js';
import type { MoatRequest } from '../packages/moat/src/engine/decision.js';
import { fmtNs, median } from './lib/measure.js';
import { pairedDifference, type PairedFigure } from './lib/paired-rounds.js';

export interface BotsBenchOptions {
  quick?: boolean;
  log?: (s: string) => void;
}

export interface BotsBenchRow {
  case: string;
  /** Median ns per request without bot settings, and with them. */
  offNs: number;
  onNs: number;
  /** on − off per round. */
  added: PairedFigure;
  /** What the engine decided with bots on (to show the case does what it says). */
  decision: string;
}

const RULES = `
block:
  paths: [/wp-login.php, /xmlrpc.php]
  userAgents: [masscan]
  countries: [KP]
`;
const BOTS = `
bots:
  search-engine: allow
  ai-crawler: block
  spoofed: block
`;
/** The same plus `unknown`, which asks isbot about every user agent no catalogue token names. */
const BOTS_UNKNOWN = `${BOTS}  unknown: monitor
`;

export async function runBotsBench(o: BotsBenchOptions = {}): Promise<{ rows: BotsBenchRow[] }> {
  const log = o.log ?? (() => {});
  const ops = o.quick ? 20_000 : 200_000;
  const rounds = o.quick ? 3 : 9;
  const dir = mkdtempSync(join(tmpdir(), 'moat-bots-bench-'));
  try {
    const data = join(dir, 'data.moat');
    const list = (name: string, cidrs: string[]) => ({ name, ranges: cidrs.map(parseRange), summary: { name, kind: 'cloud' as const, ranges: cidrs.length, invalidLines: 0 } });
    buildDataFile({
      countries: { rows: [{ range: parseRange('175.45.176.0/22'), country: 'KP' }], summary: { name: 'countries', kind: 'country', ranges: 1, invalidLines: 0 } },
      lists: [list('googlebot', ['66.249.64.0/19', '2001:4860:4801::/48']), list('bingbot', ['157.55.39.0/24'])],
    }, data);
    const compile = (text: string, name: string) => {
      const { rules, bots } = parseRulesSource(text);
      return writeRulesFile(rules, join(dir, name), { bots }).path;
    };
    const offFile = compile(RULES, 'off.moat');
    const onFile = compile(RULES + BOTS, 'on.moat');
    const unknownFile = compile(RULES + BOTS_UNKNOWN, 'unknown.moat');
    const dataSet = loadDataFile(data);
    const off = new Engine({ rules: loadRulesFile(offFile), data: dataSet, now: () => 0 });
    const on = new Engine({ rules: loadRulesFile(onFile), data: dataSet, now: () => 0 });
    const onUnknown = new Engine({ rules: loadRulesFile(unknownFile), data: dataSet, now: () => 0 });

    const browser = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    const googlebot = 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
    // Pool larger than the memo's 2 × 2048 entries, visited in order: every request is a memo miss.
    const fresh = Array.from({ length: 16_384 }, (_, i) => `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (i % 50)}.0.${i}.0 Safari/537.36`);
    const req = (ip: string, userAgent: string): MoatRequest => ({ ip, userAgent, method: 'GET', host: 'example.test', path: '/products/42' });
    const freshRequests = fresh.map((ua) => req('203.0.113.7', ua));
    const cases: { name: string; engine: Engine; request: (i: number) => MoatRequest }[] = [
      { name: 'browser UA, remembered', engine: on, request: (() => { const r = req('203.0.113.7', browser); return () => r; })() },
      { name: 'browser UA, new each request (memo miss)', engine: on, request: (i: number) => freshRequests[i & 16_383] },
      { name: 'browser UA, memo miss, with unknown (isbot)', engine: onUnknown, request: (i: number) => freshRequests[i & 16_383] },
      { name: 'Googlebot from its range (verified)', engine: on, request: (() => { const r = req('66.249.66.1', googlebot); return () => r; })() },
      { name: 'Googlebot from elsewhere (spoofed)', engine: on, request: (() => { const r = req('203.0.113.7', googlebot); return () => r; })() },
    ];

    const timeOne = (engine: Engine, request: (i: number) => MoatRequest): number => {
      let sink = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < ops; i++) if (engine.evaluate(request(i)).treatment === 'Blocked') sink++;
      const ns = Number(process.hrtime.bigint() - t0) / ops;
      if (sink === -1) console.log('unreachable');
      return ns;
    };
    const rows: BotsBenchRow[] = [];
    for (const c of cases) {
      timeOne(off, c.request);
      timeOne(c.engine, c.request); // warm-up of both
      const offs: number[] = [];
      const ons: number[] = [];
      for (let r = 0; r < rounds; r++) {
        offs.push(timeOne(off, c.request));
        ons.push(timeOne(c.engine, c.request));
      }
      const d = c.engine.evaluate(c.request(0));
      const row: BotsBenchRow = {
        case: c.name, offNs: median(offs), onNs: median(ons), added: pairedDifference(ons, offs),
        decision: d.treatment === 'Passed' && d.monitored.length > 0 ? `Passed, monitored ${d.monitored[0].category}` : `${d.treatment} ${d.category}`,
      };
      rows.push(row);
      log(`bots: ${c.name}: off ${fmtNs(row.offNs)}, on ${fmtNs(row.onNs)}, added ${fmtNs(row.added.median)} (${fmtNs(row.added.spread[0])}–${fmtNs(row.added.spread[1])}); ${row.decision}`);
    }
    dataSet.close();
    return { rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runBotsBench({ quick: process.argv.includes('--quick'), log: console.log });
}
