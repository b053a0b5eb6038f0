import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { HubStore, RulesBuild, RulesFormat, StoredRule } from '../store/store.js';
import type { CompiledFile, Rule } from './compile.js';
import { run as compileInPlace, plainRule, type CompileJobInput, type CompileJobResult } from './compile-job.js';
import { JobLimit, runJobInWorker } from '../workers/module-worker.js';
import { siteAttackSettings } from '../rules/attack-settings.js';
import { siteBotSettings } from '../rules/bot-settings.js';
import type { RateLimitKey } from 'moat-waf';

export interface ServedBuild extends RulesBuild {
  path: string;
}

const FILE_PREFIX: Record<RulesFormat, string> = { moat: 'moat-rules-', wafris: 'custom_rules-' };

/** Sites of up to this many rules (bans included) compile in place: about 33 µs a rule, some 30 ms here. */
export const INLINE_COMPILE_RULES = 1_000;

/** Compiles running at once in workers, across the process's sites; more wait their turn. */
const compilers = new JobLimit(2);

/** The file name carries the content hash, so a client's `client_db` tells exactly what it has. */
export function buildFileName(format: RulesFormat, hash: string): string {
  return `${FILE_PREFIX[format]}${hash.slice(0, 16)}.db`;
}

/**
 * Compiles each site's rules into the files clients download, one folder per site. Builds of one site
 * run one after another; files are written under a temporary name and renamed, so a download never
 * sees a half-written file, and the previous file is kept for downloads still in flight.
 */
export class RulesBuilder {
  private readonly queues = new Map<number, Promise<unknown>>();
  private readonly builtListeners: ((path: string) => unknown)[] = [];
  private readonly expiredListeners: ((siteId: number, rules: StoredRule[]) => Promise<unknown>)[] = [];
  private readonly ruleSources: ((siteId: number) => Promise<Rule[]>)[] = [];
  private reportKeySource: ((siteId: number) => Promise<RateLimitKey[]>) | null = null;
  private readonly rebuildsForMissing = new Map<number, Promise<Record<RulesFormat, ServedBuild>>>();
  private readonly rebuiltListeners: ((siteId: number, built: Record<RulesFormat, ServedBuild>) => unknown)[] = [];
  /** Rebuilds compiled in a worker thread since this builder was made (tests read it). */
  compiledInWorkers = 0;

  constructor(
    private readonly store: HubStore,
    private readonly rulesDir: string,
    private readonly now: () => number,
  ) {}

  /** Recompiles both formats of a site; call after every change of its rules. */
  rebuild(siteId: number): Promise<Record<RulesFormat, ServedBuild>> {
    return this.serialized(siteId, async () => {
      const previous = await this.store.getBuild(siteId, 'wafris');
      // Rules made elsewhere (automatic bans) are compiled in but not stored as the site's rules.
      const made: Rule[] = [];
      for (const source of this.ruleSources) made.push(...(await source(siteId)));
      const attacks = await siteAttackSettings(this.store, siteId);
      const bots = await siteBotSettings(this.store, siteId);
      const reportKeys = (await this.reportKeySource?.(siteId)) ?? [];
      // One instant, a whole second, for the compile's expiry test (`expires <= now`) and the build's
      // builtAt (seconds): the expiry windows below and in rebuildExpired() then start exactly where the
      // compile judged, so a rule expiring while the files are written is rebuilt out, not taken as gone.
      const compiledAt = Math.floor(this.now() / 1000);
      const job = { attacks, bots, reportKeys: [...reportKeys], now: compiledAt * 1000 };
      // A big site on a SQLite file: the compile worker reads the stored rules itself.
      const source = this.store.reportScanSource();
      const total = (await this.store.countRules(siteId)) + made.length;
      const compiled = total > INLINE_COMPILE_RULES && source?.kind === 'sqlite'
        ? await this.compile(siteId, { ...job, rules: made, storedRulesFrom: { file: source.file, siteId } }, total)
        : await this.compile(siteId, { ...job, rules: [...(await this.store.listRules(siteId)).map(plainRule), ...made] });
      const built = {
        moat: await this.place(siteId, 'moat', compiled.moat, compiled.ruleCount, compiledAt),
        wafris: await this.place(siteId, 'wafris', compiled.wafris, compiled.ruleCount, compiledAt),
      };
      // Every build after an expiry sees it exactly once: expired since the previous compile, not after this one's.
      const expired = previous ? await this.store.rulesExpiredBetween(siteId, previous.builtAt * 1000, compiledAt * 1000) : [];
      if (expired.length > 0) for (const listener of this.expiredListeners) await listener(siteId, expired);
      for (const listener of this.rebuiltListeners) {
        try {
          listener(siteId, built);
        } catch {
          // Waking held downsyncs is a speed-up; clients still get the files on their next request.
        }
      }
      return built;
    });
  }

  /** The current file of a format, compiling it first when it is missing (first run, deleted folder). */
  async current(siteId: number, format: RulesFormat): Promise<ServedBuild> {
    const build = await this.store.getBuild(siteId, format);
    if (build) {
      const path = join(this.siteDir(siteId), build.fileName);
      if (existsSync(path)) return { ...build, path };
    }
    // One rebuild for every request that finds the file missing at once (a hub that learnt of another
    // hub's change, with many clients asking), not one each.
    let pending = this.rebuildsForMissing.get(siteId);
    if (pending === undefined) {
      pending = this.rebuild(siteId).finally(() => this.rebuildsForMissing.delete(siteId));
      this.rebuildsForMissing.set(siteId, pending);
    }
    return (await pending)[format];
  }

  /**
   * Rebuilds sites whose Wafris file still holds a rule that has expired since (Wafris has no expiry):
   * the file holds every rule expiring after its builtAt, the instant its compile judged expiry by.
   */
  async rebuildExpired(): Promise<number> {
    const nowMs = this.now();
    let rebuilt = 0;
    for (const site of await this.store.listSites()) {
      const build = await this.store.getBuild(site.id, 'wafris');
      if (!build) continue;
      if ((await this.store.rulesExpiredBetween(site.id, build.builtAt * 1000, nowMs)).length > 0) {
        await this.rebuild(site.id);
        rebuilt += 1;
      }
    }
    return rebuilt;
  }

  /** Calls `listener` with the path of every new file, once it is in place (not awaited). */
  onBuilt(listener: (path: string) => unknown): void {
    this.builtListeners.push(listener);
  }

  /** Calls `listener` (not awaited) once both files of a site are rebuilt and saved. */
  onRebuilt(listener: (siteId: number, built: Record<RulesFormat, ServedBuild>) => unknown): void {
    this.rebuiltListeners.push(listener);
  }

  /** Adds rules from `source` to every build of a site (automatic bans); the source owns their expiry. */
  addRuleSource(source: (siteId: number) => Promise<Rule[]>): void {
    this.ruleSources.push(source);
  }

  /** Where the keys a site's Moat clients report come from (its keyed threshold rules). */
  setReportKeySource(source: (siteId: number) => Promise<RateLimitKey[]>): void {
    this.reportKeySource = source;
  }

  /** Calls `listener` (awaited) with a site's rules that expired since its previous build, once per expiry. */
  onExpired(listener: (siteId: number, rules: StoredRule[]) => Promise<unknown>): void {
    this.expiredListeners.push(listener);
  }

  /** Waits for builds in progress (used on shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }

  private siteDir(siteId: number): string {
    return join(this.rulesDir, `site-${siteId}`);
  }

  /**
   * Both formats' files, under temporary names in the site's folder: in place for a few rules, in a
   * worker for many, so a big site's rebuild (a rule added, a ban) never holds the event loop.
   */
  private async compile(siteId: number, job: Omit<CompileJobInput, 'moatPath' | 'wafrisPath'>, total = job.rules.length): Promise<CompileJobResult> {
    const dir = this.siteDir(siteId);
    mkdirSync(dir, { recursive: true });
    const temp = (format: RulesFormat) => join(dir, `.building-${format}-${randomBytes(6).toString('hex')}.db`);
    const input: CompileJobInput = { ...job, moatPath: temp('moat'), wafrisPath: temp('wafris') };
    try {
      if (total <= INLINE_COMPILE_RULES) return compileInPlace(input);
      this.compiledInWorkers += 1;
      return await compilers.run(() => runJobInWorker<CompileJobInput, CompileJobResult>(new URL('./compile-job', import.meta.url), input, 'rules compile'));
    } catch (error) {
      rmSync(input.moatPath, { force: true });
      rmSync(input.wafrisPath, { force: true });
      throw error;
    }
  }

  /** Renames a compiled file to its served name, records the build and removes files no longer served. */
  private async place(siteId: number, format: RulesFormat, compiled: CompiledFile, ruleCount: number, compiledAt: number): Promise<ServedBuild> {
    const dir = this.siteDir(siteId);
    const fileName = buildFileName(format, compiled.hash);
    const path = join(dir, fileName);
    renameSync(compiled.path, path);
    const build: RulesBuild = {
      siteId, format, fileName, hash: compiled.hash, builtAt: compiledAt,
      ruleCount: ruleCount - compiled.skipped.length,
    };
    const previous = await this.store.getBuild(siteId, format);
    await this.store.saveBuild(build);
    this.removeOldFiles(dir, format, [fileName, previous?.fileName]);
    for (const listener of this.builtListeners) {
      try {
        listener(path);
      } catch {
        // A listener (pre-signing) is an optimisation; the build itself succeeded.
      }
    }
    return { ...build, path };
  }

  private removeOldFiles(dir: string, format: RulesFormat, keep: (string | undefined)[]): void {
    for (const name of readdirSync(dir)) {
      if (name.startsWith(FILE_PREFIX[format]) && !keep.includes(name)) rmSync(join(dir, name), { force: true });
    }
  }

  private serialized<T>(siteId: number, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(siteId) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.queues.set(siteId, settled);
    void settled.then(() => {
      if (this.queues.get(siteId) === settled) this.queues.delete(siteId);
    });
    return next;
  }
}
