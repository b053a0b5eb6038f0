/**
 * The bot catalogue a hub compiles sites with: the newest accepted entry in the store, else the one
 * shipped with the hub. Read from the store at every use (one row), never kept as this hub's own
 * state, so every hub of a fleet compiles what the database holds. A stored catalogue is parsed again
 * only when its hash changes, in a worker (it may be 1 MiB of JSON: see bot-catalogue-job.ts), once
 * for every caller asking at the same time. A stored catalogue that does not read (one an older hub
 * accepted before today's stricter checks) makes the hub fall back to the shipped one: never silently,
 * the hub's listeners hear of it once per catalogue (onCatalogueFallback).
 */
import { shippedBotCatalogue, type BotCatalogue } from 'moat-waf';
import type { BotCatalogueSummary } from '../store/bot-catalogue-records.js';
import type { HubStore } from '../store/store.js';
import { catalogueIdentity, checkBotCatalogueText } from './bot-catalogue-check.js';
import { checkCatalogueInWorker } from './build-worker.js';

export interface CatalogueInForce {
  catalogue: BotCatalogue;
  hash: string;
  /** The store's entry; undefined when none was ever accepted (the shipped catalogue). */
  entry: BotCatalogueSummary | undefined;
  /** Set when the stored entry no longer reads (then the shipped catalogue is used, and the page says why). */
  problem: string | null;
}

/** The stored catalogue in force that does not read, and why: every site is compiled with the shipped one instead. */
export interface CatalogueFallback {
  entry: BotCatalogueSummary;
  /** Bounded, for logs and the feed's status line: names the version and the first problems. */
  problem: string;
}

let shipped: { catalogue: BotCatalogue; hash: string } | undefined;
/** Per store, since tests run several hubs in one process. */
const parsed = new WeakMap<HubStore, { hash: string; reading: Promise<Reading> }>();
const fallbackListeners = new WeakMap<HubStore, ((fallback: CatalogueFallback) => Promise<void>)[]>();

type Reading = { catalogue: BotCatalogue } | { problem: string; transient: boolean };

export function shippedCatalogue(): { catalogue: BotCatalogue; hash: string } {
  if (shipped === undefined) {
    const catalogue = shippedBotCatalogue();
    shipped = { catalogue, hash: catalogueIdentity(catalogue).hash };
  }
  return shipped;
}

/**
 * Below this, stored content is read on the event loop: the shipped catalogue (about 15 KB) reads in a
 * millisecond or two, less than starting a worker; 1 MiB took 100–200 ms, so larger ones go to a worker.
 */
const INLINE_MAX_CHARS = 64 * 1024;

/** The catalogue of stored content, or why it does not read. */
async function read(content: string, hash: string): Promise<Reading> {
  try {
    const check = content.length <= INLINE_MAX_CHARS ? checkBotCatalogueText(content) : await checkCatalogueInWorker(content);
    if (!check.ok) return { problem: check.problem, transient: false };
    return check.hash === hash ? { catalogue: check.catalogue } : { problem: 'its content does not match its hash', transient: false };
  } catch (error) {
    return { problem: (error as Error).message, transient: true };
  }
}

/**
 * Calls `listener` when a stored catalogue in force is found not to read: once per catalogue and process
 * (its reading is kept by hash), awaited before any caller gets the shipped catalogue in its place.
 */
export function onCatalogueFallback(store: HubStore, listener: (fallback: CatalogueFallback) => Promise<void>): void {
  fallbackListeners.set(store, [...(fallbackListeners.get(store) ?? []), listener]);
}

function fallbackProblem(version: number, problem: string): string {
  return `catalogue version ${version} does not read (${problem.slice(0, 200)}); the shipped catalogue is used`;
}

/** Tells the store's listeners, which keep their own failures (a fallback must not fail a build). */
async function tellFallback(store: HubStore, entry: BotCatalogueSummary, reading: Reading): Promise<Reading> {
  if ('problem' in reading && !reading.transient) {
    const fallback = { entry, problem: fallbackProblem(entry.version, reading.problem) };
    for (const listener of fallbackListeners.get(store) ?? []) await listener(fallback).catch(() => undefined);
  }
  return reading;
}

/** The hub that accepted a catalogue has it read already (checked in a worker): no second reading. */
export function rememberCatalogue(store: HubStore, hash: string, catalogue: BotCatalogue): void {
  parsed.set(store, { hash, reading: Promise.resolve({ catalogue }) });
}

export async function catalogueInForce(store: HubStore): Promise<CatalogueInForce> {
  const stored = await store.botCatalogues.current();
  if (stored === undefined) return { ...shippedCatalogue(), entry: undefined, problem: null };
  const { content, ...entry } = stored;
  if (content === null) return { ...shippedCatalogue(), entry, problem: null };
  let cached = parsed.get(store);
  if (cached === undefined || cached.hash !== stored.hash) {
    cached = { hash: stored.hash, reading: read(content, stored.hash).then((reading) => tellFallback(store, entry, reading)) };
    parsed.set(store, cached);
  }
  const reading = await cached.reading;
  if ('catalogue' in reading) return { catalogue: reading.catalogue, hash: stored.hash, entry, problem: null };
  if (reading.transient) {
    // A worker that failed says nothing about the catalogue: compiling with another one would make this
    // hub's files differ from the fleet's, so the build fails (the previous file stays) and the next one retries.
    if (parsed.get(store) === cached) parsed.delete(store);
    throw new Error(`could not read the bot catalogue in force: ${reading.problem}`);
  }
  // Content that does not read: every hub reads the same row with the same code, so every hub falls back alike.
  return { ...shippedCatalogue(), entry, problem: fallbackProblem(stored.version, reading.problem) };
}
