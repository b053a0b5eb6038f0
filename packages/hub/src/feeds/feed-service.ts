/**
 * Keeps the threat-intelligence feeds current: on a timer it fetches the sources that are due (and any
 * an admin asks to refresh), and when a copy changed it rebuilds the data file in a worker, publishes
 * it as a new version, and records what changed. One cycle runs at a time; requests queue behind it.
 * A source that fails or returns garbage keeps its last good copy and shows the error.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FeedsConfig } from './feeds-config.js';
import type { FeedFormat, FeedSource, FeedSourceFields, FeedVersion } from '../store/feed-records.js';
import { HttpError } from '../server/http-error.js';
import type { HubStore } from '../store/store.js';
import { BOT_CATALOGUE_MAX_BYTES } from './bot-catalogue-check.js';
import type { BotCatalogueService } from './bot-catalogue-service.js';
import { buildInWorker } from './build-worker.js';
import { fetchFeed, FeedFetchError } from './fetch-feed.js';
import { publishDataFiles, versionFileName } from './feed-publisher.js';
import { receiveUpload, type ReceivedUpload } from './upload-stream.js';

/** Most feed sources a hub keeps. */
export const MAX_SOURCES = 100;

export interface FeedServiceOptions extends FeedsConfig {
  /** `<dataDir>/feeds`: the copies of each source and the last build's list snapshot. */
  dir: string;
  dataFilesDir: string;
  /** Add the bundled country set to every build that has no country source. */
  bundledCountries: boolean;
}

export interface FeedLog {
  error(detail: object, message: string): void;
}

/** A new copy waiting for the build to check it, with what the fetch learned. */
interface Candidate {
  file: string;
  bytes: number;
  sha256: string;
  etag: string | null;
  lastModified: string | null;
}

/** What one cycle should do: fetch these sources (or the due ones), rebuild even without a new copy. */
interface CycleRequest {
  ids: number[] | 'due';
  rebuild: boolean;
  uploads: Map<number, Candidate>;
}

export class FeedService {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private uploads = 0;
  /** Aborts fetches in flight when the hub stops, so closing never waits for a slow feed. */
  private readonly closing = new AbortController();
  /** Cycles run, builds done, for tests and the page. */
  readonly counters = { cycles: 0, fetches: 0, notModified: 0, builds: 0, versions: 0, lastBuildThreadId: -1 };

  /** `bots`: where a `bots` source's copies go (the catalogue, not the data file). */
  constructor(
    private readonly store: HubStore, private readonly options: FeedServiceOptions, private readonly now: () => number, private readonly log: FeedLog,
    readonly bots: BotCatalogueService,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.enqueue({ ids: 'due', rebuild: false, uploads: new Map() }), this.options.tickMs);
    this.timer.unref();
    void this.enqueue({ ids: 'due', rebuild: false, uploads: new Map() });
  }

  /** Stops the timer and waits for a running cycle. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.closing.abort();
    await this.chain;
  }

  /** Resolves when every queued cycle has run. */
  idle(): Promise<void> {
    return this.chain;
  }

  async overview(versionLimit = 20): Promise<{ sources: FeedSource[]; versions: FeedVersion[] }> {
    return { sources: await this.store.feeds.listSources(), versions: await this.store.feeds.listVersions(versionLimit) };
  }

  /** Adds a source; a URL source is fetched at once, an uploaded one checked and built at once. Undefined when the name is taken. */
  async create(fields: FeedSourceFields, upload?: string): Promise<{ source: FeedSource; cycle: Promise<void> } | undefined> {
    // Each source may hold two copies of up to maxBytes on disk and a place in every build: bounded.
    const existing = await this.store.feeds.listSources();
    if (existing.length >= MAX_SOURCES) {
      throw new HttpError(409, `a hub holds at most ${MAX_SOURCES} feed sources; remove one first`, 'too_many_feeds');
    }
    oneCatalogueSource(existing, fields);
    const source = await this.store.feeds.createSource(fields, this.seconds());
    if (!source) return undefined;
    return { source, cycle: this.afterChange(source, upload, false) };
  }

  async update(id: number, fields: FeedSourceFields, upload?: string): Promise<'done' | 'not_found' | 'name_taken'> {
    const all = await this.store.feeds.listSources();
    oneCatalogueSource(all.filter((s) => s.id !== id), fields);
    const previous = all.find((s) => s.id === id);
    const outcome = await this.store.feeds.updateSource(id, fields, this.seconds());
    if (outcome === 'done') {
      const source = (await this.store.feeds.getSource(id))!;
      // A source turned into (or out of) the catalogue leaves (or joins) the data file: rebuild it then.
      void this.afterChange(source, upload, true, previous !== undefined && previous.format !== 'bots');
    }
    return outcome;
  }

  /** A removed `bots` source leaves the catalogue in force as it is (revert it on the Data page). */
  async remove(id: number): Promise<boolean> {
    const source = await this.store.feeds.getSource(id);
    if (!source || !(await this.store.feeds.deleteSource(id))) return false;
    void this.enqueue({ ids: [], rebuild: source.format !== 'bots', uploads: new Map() }).then(() => this.forgetCopies(id)).catch(() => undefined);
    return true;
  }

  /**
   * Checks an uploaded file (its bytes, its text, or a file receive() wrote) as the source's new copy
   * and rebuilds with it; resolves when done.
   */
  upload(id: number, upload: string | Buffer | ReceivedUpload, format: FeedFormat): Promise<void> {
    return this.afterChange({ id, origin: 'upload', format }, upload, true);
  }

  /** Writes an upload's body to a copy of its own as it arrives (upload-stream.ts), for upload(). */
  async receive(id: number, body: Readable, maxBytes: number): Promise<ReceivedUpload> {
    await mkdir(this.options.dir, { recursive: true });
    return receiveUpload(body, this.uploadFile(id), maxBytes);
  }

  /** Never rejects: callers may not wait (the page's forms), and a failure is the source's state to show. */
  private async uploadFailed(id: number, error: unknown): Promise<void> {
    this.log.error({ err: error }, 'could not store an uploaded feed file');
    await this.store.feeds.saveState(id, { status: 'error', checkedAt: this.seconds(), lastError: `upload: ${(error as Error).message}`.slice(0, 500) })
      .catch(() => undefined);
  }

  /** Fetches one source now (whatever its schedule) and rebuilds if it changed; resolves when done. */
  refresh(id: number): Promise<void> {
    return this.enqueue({ ids: [id], rebuild: false, uploads: new Map() });
  }

  /**
   * A URL source is fetched at once (its new copy starts the build); other sources, and any edit (a
   * list renamed, a source switched to bundled), rebuild at once.
   */
  private afterChange(source: Pick<FeedSource, 'id' | 'origin' | 'format'>, upload: string | Buffer | ReceivedUpload | undefined, edited: boolean, wasRanges = false): Promise<void> {
    // The file is written while the queue waits, but its cycle takes its place in the queue now, so
    // idle() and a later refresh come after it.
    const saving = upload !== undefined && source.origin === 'upload' ? this.saveUpload(source.id, upload) : undefined;
    saving?.catch(() => undefined); // handled below, in the queued step
    return this.enqueue(async () => {
      const uploads = new Map<number, Candidate>();
      if (saving) {
        try {
          uploads.set(source.id, await saving);
        } catch (error) {
          await this.uploadFailed(source.id, error);
          return undefined;
        }
      }
      // A `bots` source feeds the catalogue, never the data file: nothing to rebuild there.
      const ranges = source.format !== 'bots' || wasRanges;
      return { ids: source.origin === 'url' ? [source.id] : [], rebuild: ranges && (edited || source.origin !== 'url'), uploads };
    });
  }

  private enqueue(make: CycleRequest | (() => Promise<CycleRequest | undefined>)): Promise<void> {
    const run = async () => {
      const request = typeof make === 'function' ? await make() : make;
      if (request && !this.stopped) await this.cycle(request);
    };
    const next = this.chain.then(run).catch((error: unknown) => {
      this.log.error({ err: error }, 'a feed refresh cycle failed');
    });
    this.chain = next;
    return next;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private copy(id: number, kind: 'good' | 'candidate'): string {
    return join(this.options.dir, `${id}.${kind}`);
  }

  /** A name per upload: a second upload must not overwrite a copy the queued build is about to read. */
  private uploadFile(id: number): string {
    return join(this.options.dir, `${id}.upload-${++this.uploads}`);
  }

  private async saveUpload(id: number, upload: string | Buffer | ReceivedUpload): Promise<Candidate> {
    if (typeof upload === 'object' && !Buffer.isBuffer(upload)) return { ...upload, etag: null, lastModified: null };
    const bytes = typeof upload === 'string' ? Buffer.from(upload) : upload;
    await mkdir(this.options.dir, { recursive: true });
    const file = this.uploadFile(id);
    await writeFile(file, bytes);
    return { file, bytes: bytes.length, sha256: await sha256InSlices(bytes), etag: null, lastModified: null };
  }

  private async forgetCopies(id: number): Promise<void> {
    await rm(this.copy(id, 'good'), { force: true });
    await rm(this.copy(id, 'candidate'), { force: true });
  }

  private async exists(path: string): Promise<boolean> {
    return access(path).then(() => true, () => false);
  }

  private async cycle(request: CycleRequest): Promise<void> {
    this.counters.cycles++;
    await mkdir(this.options.dir, { recursive: true });
    const sources = await this.store.feeds.listSources();
    const nowS = this.seconds();
    const candidates = new Map(request.uploads);
    const due = request.ids === 'due'
      ? sources.filter((s) => s.origin === 'url' && (s.checkedAt === null || s.checkedAt + s.refreshSeconds <= nowS))
      : sources.filter((s) => (request.ids as number[]).includes(s.id) && s.origin === 'url');
    for (const source of due) {
      if (this.stopped) return;
      const fetched = await this.fetchOne(source);
      if (fetched) candidates.set(source.id, fetched);
    }
    for (const source of sources) {
      const candidate = candidates.get(source.id);
      if (source.format !== 'bots' || candidate === undefined) continue;
      candidates.delete(source.id);
      await this.offerCatalogue(source, candidate);
    }
    if (candidates.size === 0 && !request.rebuild) return;
    await this.build(sources.filter((s) => s.format !== 'bots'), candidates);
  }

  /** A `bots` source's new copy goes to the catalogue service; its verdict becomes the source's state. */
  private async offerCatalogue(source: FeedSource, candidate: Candidate): Promise<void> {
    const checkedAt = this.seconds();
    let outcome;
    try {
      // An upload is bounded by the feeds' cap only: a copy over the catalogue's cap is refused unread.
      outcome = candidate.bytes > BOT_CATALOGUE_MAX_BYTES
        ? { kind: 'refused' as const, problem: `the catalogue is ${candidate.bytes} bytes, over the ${BOT_CATALOGUE_MAX_BYTES}-byte cap` }
        : await this.bots.offer(source, await readFile(candidate.file, 'utf8'), checkedAt);
    } catch (error) {
      this.log.error({ err: error }, 'could not check a bot catalogue feed');
      await this.store.feeds.saveState(source.id, { status: 'error', checkedAt, lastError: `error: ${(error as Error).message}`.slice(0, 500), failures: source.failures + 1 });
      return;
    } finally {
      await rm(candidate.file, { force: true });
    }
    switch (outcome.kind) {
      case 'accepted':
      case 'unchanged':
        await this.store.feeds.saveState(source.id, {
          status: 'ok', checkedAt, changedAt: outcome.kind === 'accepted' ? checkedAt : source.changedAt ?? checkedAt,
          entries: outcome.kind === 'accepted' ? outcome.entry.bots : outcome.bots, bytes: candidate.bytes, sha256: candidate.sha256,
          etag: candidate.etag, lastModified: candidate.lastModified, lastError: null, failures: 0,
        });
        return;
      case 'refused':
        // The catalogue in force stays; validators are dropped so the next fetch is a full GET.
        await this.store.feeds.saveState(source.id, {
          status: 'error', checkedAt, lastError: `rejected: ${outcome.problem}`.slice(0, 500), failures: source.failures + 1, etag: null, lastModified: null,
        });
        return;
      case 'held':
        await this.store.feeds.saveState(source.id, {
          status: 'error', checkedAt, etag: null, lastModified: null,
          lastError: `held for confirmation: ${outcome.reason}; confirm or dismiss it below`.slice(0, 500),
        });
        return;
      case 'dismissed':
        await this.store.feeds.saveState(source.id, {
          status: 'error', checkedAt, etag: null, lastModified: null,
          lastError: `the copy offered (catalogue version ${outcome.entry.version}) was dismissed by an admin; the catalogue in force stays`,
        });
    }
  }

  /** Fetches a source into its candidate copy; undefined when nothing new arrived (304, same bytes, or an error, recorded). */
  private async fetchOne(source: FeedSource): Promise<Candidate | undefined> {
    this.counters.fetches++;
    const file = this.copy(source.id, 'candidate');
    // A catalogue's good copy is the store's (shared by every hub), known here by its hash; it is at most 1 MiB.
    const catalogue = source.format === 'bots';
    const hasGood = catalogue ? source.sha256 !== null : await this.exists(this.copy(source.id, 'good'));
    const limits = catalogue ? { ...this.options, maxBytes: Math.min(this.options.maxBytes, BOT_CATALOGUE_MAX_BYTES) } : this.options;
    const checkedAt = this.seconds();
    try {
      const outcome = await fetchFeed(source.url!, file, hasGood ? { etag: source.etag, lastModified: source.lastModified } : { etag: null, lastModified: null }, limits, this.closing.signal);
      if (outcome.kind === 'not_modified' || (hasGood && outcome.sha256 === source.sha256)) {
        this.counters.notModified++;
        await rm(file, { force: true });
        const validators = outcome.kind === 'fetched' ? { etag: outcome.etag, lastModified: outcome.lastModified } : {};
        // Nothing new, but the catalogue in force from this copy may not read any more: that stays the source's error.
        const fallback = catalogue ? await this.bots.fallbackErrorOf(source.id) : null;
        await this.store.feeds.saveState(source.id, fallback === null
          ? { status: 'ok', checkedAt, lastError: null, failures: 0, ...validators }
          : { status: 'error', checkedAt, lastError: fallback, failures: 0, ...validators });
        return undefined;
      }
      return { file, bytes: outcome.bytes, sha256: outcome.sha256, etag: outcome.etag, lastModified: outcome.lastModified };
    } catch (error) {
      const message = error instanceof FeedFetchError ? `${error.code}: ${error.message}` : `error: ${(error as Error).message}`;
      await this.store.feeds.saveState(source.id, { status: 'error', checkedAt, lastError: message.slice(0, 500), failures: source.failures + 1 });
      return undefined;
    }
  }

  private async build(sources: FeedSource[], candidates: Map<number, Candidate>): Promise<void> {
    this.counters.builds++;
    const [latest] = await this.store.feeds.listVersions(1);
    const snapshot = join(this.options.dir, 'lists.json');
    const nextSnapshot = join(this.options.dir, 'lists.next.json');
    await mkdir(this.options.dataFilesDir, { recursive: true });
    const workDir = await mkdtemp(join(this.options.dataFilesDir, '.building-feeds-'));
    const checkedAt = this.seconds();
    try {
      const jobSources = await Promise.all(sources.map(async (s) => ({
        id: s.id, name: s.name, format: s.format, list: s.list, bundled: s.origin === 'bundled',
        candidate: candidates.get(s.id)?.file ?? null,
        good: (await this.exists(this.copy(s.id, 'good'))) ? this.copy(s.id, 'good') : null,
      })));
      let result;
      try {
        result = await buildInWorker({
          sources: jobSources, bundledCountries: this.options.bundledCountries, workDir,
          snapshotIn: latest && (await this.exists(snapshot)) ? snapshot : null, snapshotOut: nextSnapshot,
          previousHash: latest?.contentHash ?? null,
        });
      } catch (error) {
        for (const id of candidates.keys()) {
          const source = sources.find((s) => s.id === id);
          await this.store.feeds.saveState(id, { status: 'error', checkedAt, lastError: `build: ${(error as Error).message}`.slice(0, 500), failures: (source?.failures ?? 0) + 1 });
        }
        throw error;
      }
      this.counters.lastBuildThreadId = result.threadId;
      for (const outcome of result.sources) {
        const candidate = candidates.get(outcome.id);
        const source = sources.find((s) => s.id === outcome.id)!;
        if (outcome.used === 'candidate' && candidate) {
          await rename(candidate.file, this.copy(outcome.id, 'good'));
          await this.store.feeds.saveState(outcome.id, {
            status: 'ok', checkedAt, changedAt: checkedAt, entries: outcome.entries, bytes: candidate.bytes, sha256: candidate.sha256,
            etag: candidate.etag, lastModified: candidate.lastModified, lastError: null, failures: 0,
          });
        } else if (candidate) {
          // Refused: the last good copy stays; its validators are dropped so the next fetch is a full GET.
          await rm(candidate.file, { force: true });
          await this.store.feeds.saveState(outcome.id, {
            status: 'error', checkedAt, lastError: `rejected: ${outcome.problem ?? 'unusable'}`.slice(0, 500), failures: source.failures + 1,
            etag: null, lastModified: null,
          });
        } else if (source.origin === 'bundled') {
          await this.store.feeds.saveState(outcome.id, { status: 'ok', checkedAt, entries: outcome.entries, lastError: null, failures: 0, ...(source.changedAt === null ? { changedAt: checkedAt } : {}) });
        }
      }
      if (!result.changed) return;
      const builtAt = new Date(this.now());
      const fileName = versionFileName(builtAt, result.hash);
      await publishDataFiles(workDir, this.options.dataFilesDir, fileName);
      await rename(nextSnapshot, snapshot);
      await this.store.feeds.addVersion({ builtAt: Math.floor(builtAt.getTime() / 1000), fileName, ranges: result.ranges, contentHash: result.hash, diff: result.diff });
      this.counters.versions++;
    } finally {
      await rm(workDir, { recursive: true, force: true });
      await rm(nextSnapshot, { force: true });
    }
  }
}

/** One `bots` source per hub: two would take turns replacing each other's catalogue. */
function oneCatalogueSource(others: readonly FeedSource[], fields: FeedSourceFields): void {
  if (fields.format !== 'bots') return;
  const taken = others.find((s) => s.format === 'bots');
  if (taken) throw new HttpError(409, `the bot catalogue already comes from ${taken.name}; edit or remove that source`, 'catalogue_source_taken');
}

/** Bytes hashed per event-loop turn: a few ms each, where one call over 60 MiB held the loop for hundreds. */
const HASH_SLICE = 1 << 20;

/** SHA-256 of `bytes` in hex, a slice per turn of the event loop. */
export async function sha256InSlices(bytes: Buffer): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += HASH_SLICE) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    hash.update(bytes.subarray(at, at + HASH_SLICE));
  }
  return hash.digest('hex');
}
