/**
 * The data-file build, run in a worker thread (build-worker.ts) so the hub's event loop never parses a
 * feed or flattens ranges. For each source it imports the new copy if there is one and checks it
 * (feed-validation.ts; a crawler list's ranges wider than /16 or IPv6 /32 count as invalid entries, and a
 * copy whose ranges add up to more than that is refused, crawler-lists.ts); a refused copy falls back to the source's last good copy. Then it builds the
 * Moat and Wafris data files and the per-list diff against the previous build's snapshot.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { buildDataFile, importAsnCsv, importCloudRanges, importCountryCsv, importIpList, readSources, type DataInputs } from 'moat-waf/data';
import { formatRange, type IpRange } from 'moat-waf/ip';
import type { FeedFormat, ListDiff } from '../store/feed-records.js';
import { crawlerListProblem, crawlerLists, crawlerRangeProblem } from './crawler-lists.js';
import { feedProblem, type Imported } from './feed-validation.js';
import { diffList, intervalsFromText, intervalsToText, mergeRanges } from './range-diff.js';

export interface BuildJobSource {
  id: number;
  name: string;
  format: FeedFormat;
  list: string;
  /** The bundled CC0 set (country-csv or asn-csv only). */
  bundled: boolean;
  /** A new copy to check and, if good, use. */
  candidate: string | null;
  /** The copy accepted before. */
  good: string | null;
}

export interface BuildJobInput {
  sources: BuildJobSource[];
  /** Add the bundled country set when no country source is configured. */
  bundledCountries: boolean;
  /** Where moat.db and wafris.db are written. */
  workDir: string;
  /** The previous build's lists (null on the first build) and where this build's go. */
  snapshotIn: string | null;
  snapshotOut: string;
  /** Content hash of the data file served now: an equal build is not a new version. */
  previousHash: string | null;
}

export interface BuildJobSourceResult {
  id: number;
  /** Which copy went into the file. */
  used: 'candidate' | 'good' | 'none';
  entries: number;
  /** Why the candidate was refused (the last good copy, if any, was used instead). */
  problem: string | null;
}

export interface BuildJobResult {
  sources: BuildJobSourceResult[];
  hash: string;
  ranges: number;
  /** False when the content equals previousHash: nothing to publish. */
  changed: boolean;
  diff: ListDiff[];
  /** The thread that built (0 would be the hub's main thread: the invariant is that it never is). */
  threadId: number;
}

type Row = { range: IpRange };
type Kind = 'country' | 'asn' | 'list';

function importText(format: FeedFormat, text: string): { kind: Kind; imported: Imported<Row> } {
  switch (format) {
    case 'ip-list':
      return { kind: 'list', imported: wrap(importIpList(text)) };
    case 'country-csv':
      return { kind: 'country', imported: importCountryCsv(text) };
    case 'asn-csv':
      return { kind: 'asn', imported: importAsnCsv(text) };
    case 'bots':
      throw new Error('a bot catalogue is not built into the data file'); // feed-service.ts routes it to the catalogue
    default:
      return { kind: 'list', imported: wrap(importCloudRanges(text, format)) };
  }
}

/** List importers return bare ranges; wrap them as rows so every kind reads alike. */
function wrap(result: Imported<IpRange>): Imported<Row> {
  return { ...result, rows: result.rows.map((range) => ({ range })) };
}

/**
 * A crawler list verifies bot claims from every address in it, so a range too wide for any crawler is an
 * invalid entry, whatever format fed the list (moat-waf's `crawlers` importer skips them already; a
 * plain or cloud-shaped copy named after a crawler list gets the same treatment here).
 */
function withoutWideRanges(imported: Imported<Row>): Imported<Row> {
  const rows: Row[] = [];
  const invalid = [...imported.invalid];
  for (const row of imported.rows) {
    const problem = crawlerRangeProblem(row.range);
    if (problem === null) rows.push(row);
    else invalid.push({ line: 0, reason: `${formatRange(row.range)} is ${problem}` });
  }
  return { ...imported, rows, invalid };
}

/** A source that feeds a crawler list, whose ranges verify bot claims: narrow ranges, and few of them in all. */
function isCrawlerSource(source: BuildJobSource): boolean {
  return source.format === 'crawlers' || crawlerLists().has(source.list);
}

function wholeListProblem(rows: readonly Row[]): string | null {
  const problem = crawlerListProblem(rows.map((row) => row.range));
  return problem === null ? null : `a crawler list refused: ${problem}`;
}

/** Reads one copy: its rows, or the reason it is refused. */
function readCopy(source: BuildJobSource, file: string): { kind: Kind; rows: Row[]; problem: null } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problem: `cannot read the copy: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  try {
    const { kind, imported: all } = importText(source.format, text);
    const crawler = kind === 'list' && isCrawlerSource(source);
    const imported = crawler ? withoutWideRanges(all) : all;
    const problem = feedProblem(text, imported) ?? (crawler ? wholeListProblem(imported.rows) : null);
    return problem ? { problem } : { kind, rows: imported.rows, problem: null };
  } catch (error) {
    return { problem: (error as Error).message.slice(0, 300) };
  }
}

export async function run(input: BuildJobInput): Promise<BuildJobResult> {
  const results: BuildJobSourceResult[] = [];
  const countries: Row[] = [];
  const asns: Row[] = [];
  const lists = new Map<string, { ranges: IpRange[]; reputation: boolean }>();
  const summaries = { country: [] as string[], asn: [] as string[] };

  for (const source of input.sources) {
    if (source.bundled) {
      const kind = source.format === 'asn-csv' ? 'asn' : 'country';
      const read = readSources(kind === 'asn' ? { asns: ['default'] } : { countries: ['default'] });
      const rows = (kind === 'asn' ? read.asns?.rows : read.countries?.rows) ?? [];
      (kind === 'asn' ? asns : countries).push(...(rows as Row[]));
      summaries[kind].push(source.name);
      results.push({ id: source.id, used: 'good', entries: rows.length, problem: null });
      continue;
    }
    let problem: string | null = null;
    let used: BuildJobSourceResult['used'] = 'none';
    let copy: ReturnType<typeof readCopy> | undefined;
    if (source.candidate) {
      copy = readCopy(source, source.candidate);
      if (copy.problem === null) used = 'candidate';
      else problem = copy.problem;
    }
    if (used === 'none' && source.good) {
      copy = readCopy(source, source.good);
      if (copy.problem === null) used = 'good';
      else problem ??= `the last good copy no longer reads: ${copy.problem}`;
    }
    if (used === 'none' || !copy || copy.problem !== null) {
      results.push({ id: source.id, used: 'none', entries: 0, problem });
      continue;
    }
    if (copy.kind === 'country') countries.push(...copy.rows);
    else if (copy.kind === 'asn') asns.push(...copy.rows);
    else {
      const list = lists.get(source.list) ?? { ranges: [], reputation: false };
      // Each copy of a crawler list is bounded on its own (readCopy); several sources feeding one list are
      // bounded together, the sources listed first kept.
      const over = isCrawlerSource(source) && list.ranges.length > 0
        ? crawlerListProblem([...list.ranges, ...copy.rows.map((row) => row.range)]) : null;
      if (over !== null) {
        results.push({ id: source.id, used: 'none', entries: 0, problem: `with the other sources of list "${source.list}": ${over}` });
        continue;
      }
      for (const row of copy.rows) list.ranges.push(row.range);
      // Only threat lists are reputation for Wafris clients (which block every such range): cloud and
      // crawler ranges are for allowing or for rules, never blocked wholesale.
      if (source.format === 'ip-list') list.reputation = true;
      lists.set(source.list, list);
    }
    if (copy.kind !== 'list') summaries[copy.kind].push(source.name);
    results.push({ id: source.id, used, entries: copy.rows.length, problem });
  }

  const inputs: DataInputs = { lists: [] };
  if (countries.length === 0 && input.bundledCountries) {
    const read = readSources({ countries: ['default'] });
    if (read.countries) inputs.countries = read.countries;
  } else if (countries.length > 0) {
    inputs.countries = { rows: countries as never, summary: { name: 'country', kind: 'country', file: summaries.country.join(','), ranges: countries.length, invalidLines: 0 } };
  }
  if (asns.length > 0) inputs.asns = { rows: asns as never, summary: { name: 'asn', kind: 'asn', file: summaries.asn.join(','), ranges: asns.length, invalidLines: 0 } };
  for (const [name, list] of [...lists].sort(([a], [b]) => a.localeCompare(b))) {
    inputs.lists!.push({ name, ranges: list.ranges, summary: { name, kind: 'list', ranges: list.ranges.length, invalidLines: 0 } });
  }

  const built = buildDataFile(inputs, join(input.workDir, 'moat.db'), {
    wafris: { path: join(input.workDir, 'wafris.db'), reputationLists: [...lists].filter(([, l]) => l.reputation).map(([n]) => n) },
  });

  // Per-list diff against the previous build's snapshot; then this build's snapshot for the next one.
  const before: Record<string, string[]> = input.snapshotIn ? JSON.parse(readFileSync(input.snapshotIn, 'utf8')) as Record<string, string[]> : {};
  const after: Record<string, string[]> = {};
  const diff: ListDiff[] = [];
  for (const name of new Set([...Object.keys(before), ...lists.keys()])) {
    const now = mergeRanges(lists.get(name)?.ranges ?? []);
    const d = diffList(name, intervalsFromText(before[name] ?? []), now);
    if (d.added > 0 || d.removed > 0) diff.push(d);
    if (lists.has(name)) after[name] = intervalsToText(now);
  }
  writeFileSync(input.snapshotOut, JSON.stringify(after));
  return { sources: results, hash: built.hash, ranges: built.ranges, changed: built.hash !== input.previousHash, diff, threadId };
}
