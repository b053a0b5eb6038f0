/**
 * The bot catalogue as a feed: a `bots` source's new copy is checked (bot-catalogue-check.ts) and, when
 * it differs from the catalogue in force, recorded in the store and compiled into every site's rules
 * file, so clients of every hub recognise the same bots at their next download. A copy that loses more
 * than half of the bots in force, or changes a bot's verify list or category, is held until an admin
 * confirms or dismisses it (bot-catalogue-trust.ts); an admin can go back to the shipped catalogue in
 * one click. Every change is audited. One change at a time. A catalogue in force that no longer passes
 * the checks (accepted by an older hub) is replaced by the shipped one where sites are compiled; this hub
 * counts it, logs it once and shows it as its feed source's error, as it does a held copy.
 */
import type { Actor } from '../audit/actor.js';
import { HUB_ACTOR } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import type { BotCatalogueEntry, BotCatalogueSummary } from '../store/bot-catalogue-records.js';
import type { HubStore } from '../store/store.js';
import { confirmationReason } from './bot-catalogue-trust.js';
import { diffCatalogues } from './bot-catalogue-diff.js';
import {
  catalogueInForce, onCatalogueFallback, rememberCatalogue, shippedCatalogue, type CatalogueFallback, type CatalogueInForce,
} from './bot-catalogue-in-force.js';
import { checkCatalogueInWorker } from './build-worker.js';

/** Catalogue entries the store keeps (each up to 1 MiB): enough history for the page, bounded. */
export const KEPT_CATALOGUES = 20;

export type OfferOutcome =
  | { kind: 'refused'; problem: string }
  | { kind: 'unchanged'; bots: number }
  | { kind: 'accepted'; entry: BotCatalogueEntry }
  | { kind: 'held'; entry: BotCatalogueSummary; reason: string }
  | { kind: 'dismissed'; entry: BotCatalogueSummary };

export interface BotCatalogueParts {
  store: HubStore;
  builder: RulesBuilder;
  audit: AuditLog;
  now: () => number;
  log: { error(detail: object, message: string): void };
}

/** A fallback as its feed source's error, saying what the admin can do. */
const sourceError = (problem: string) => `${problem}; revert to the shipped catalogue below, or have the feed send a copy that passes`.slice(0, 500);

const summary = (e: { hash: string; bots: number; source: string; edition: string }) => ({
  hash: e.hash.slice(0, 16), bots: e.bots, source: e.source, edition: e.edition,
});

export class BotCatalogueService {
  private chain: Promise<unknown> = Promise.resolve();
  /** For tests, the page and the logs: what the feed offered and what became of it. */
  readonly counters = { offered: 0, accepted: 0, held: 0, refused: 0, sitesRebuilt: 0, rebuildFailures: 0, fallbacks: 0, lastCheckThreadId: -1 };

  constructor(private readonly parts: BotCatalogueParts) {
    onCatalogueFallback(parts.store, (fallback) => this.fellBack(fallback));
  }

  /** The feed source's error while the catalogue in force came from it and does not read; null otherwise. */
  async fallbackErrorOf(sourceId: number): Promise<string | null> {
    const force = await this.inForce();
    return force.problem !== null && force.entry?.sourceId === sourceId ? sourceError(force.problem) : null;
  }

  inForce(): Promise<CatalogueInForce> {
    return catalogueInForce(this.parts.store);
  }

  /** A `bots` source's new copy: refused (with the reason), unchanged, accepted (sites rebuilt), held or already dismissed. */
  offer(source: { id: number; name: string }, text: string, fetchedAt: number): Promise<OfferOutcome> {
    return this.serialized(async () => {
      this.counters.offered++;
      const check = await this.check(text);
      if (!check.ok) {
        this.counters.refused++;
        return { kind: 'refused', problem: check.problem };
      }
      const store = this.parts.store.botCatalogues;
      const force = await this.inForce();
      if (check.hash === force.hash) return { kind: 'unchanged', bots: check.catalogue.bots.length };
      const offered = {
        content: check.json, hash: check.hash, source: source.name, sourceId: source.id, fetchedAt, recordedAt: this.seconds(),
        bots: check.catalogue.bots.length, edition: check.catalogue.updated, diff: diffCatalogues(force.catalogue, check.catalogue),
      };
      const recent = await store.list(KEPT_CATALOGUES);
      const waiting = await store.held();
      const reason = confirmationReason(force.catalogue, check.catalogue);
      if (reason !== null) {
        const dismissed = recent.find((e) => e.hash === check.hash && e.state === 'dismissed');
        if (dismissed) return { kind: 'dismissed', entry: dismissed };
        this.counters.held++;
        if (waiting?.hash === check.hash) return { kind: 'held', entry: waiting, reason };
        if (waiting) await store.decide(waiting.version, 'dismissed'); // the newer offer replaces it
        const entry = await store.add({ ...offered, state: 'held' });
        await this.parts.audit.record(HUB_ACTOR, 'bots.catalogue.hold', {
          target: source.name, before: { hash: force.hash.slice(0, 16), bots: force.catalogue.bots.length },
          after: { ...summary(entry), version: entry.version, removed: entry.diff.removed, supersedes: waiting?.version ?? null, reason },
        });
        return { kind: 'held', entry, reason };
      }
      // A catalogue the feed may apply alone makes a held one moot.
      if (waiting) await store.decide(waiting.version, 'dismissed');
      const entry = await store.add({ ...offered, state: 'accepted' });
      rememberCatalogue(this.parts.store, entry.hash, check.catalogue);
      await this.parts.audit.record(HUB_ACTOR, 'bots.catalogue.accept', {
        target: source.name, before: { hash: force.hash.slice(0, 16), bots: force.catalogue.bots.length },
        after: { ...summary(entry), version: entry.version, diff: entry.diff, dismissedHeld: waiting?.version ?? null },
      });
      await this.afterChange();
      this.counters.accepted++;
      return { kind: 'accepted', entry };
    });
  }

  /** An admin applies a held catalogue. */
  confirm(version: number, actor: Actor): Promise<'done' | 'not_held'> {
    return this.serialized(async () => {
      const store = this.parts.store.botCatalogues;
      const held = await store.get(version);
      if (!held || held.state !== 'held' || held.content === null) return 'not_held';
      const check = await this.check(held.content);
      if (!check.ok || !(await store.decide(version, 'confirmed'))) return 'not_held'; // (a stored copy was checked when offered)
      const force = await this.inForce();
      const { version: _held, state: _state, ...fields } = held;
      const entry = await store.add({ ...fields, state: 'accepted', recordedAt: this.seconds(), diff: diffCatalogues(force.catalogue, check.catalogue) });
      rememberCatalogue(this.parts.store, entry.hash, check.catalogue);
      await this.parts.audit.record(actor, 'bots.catalogue.confirm', {
        target: held.source, before: { hash: force.hash.slice(0, 16), bots: force.catalogue.bots.length },
        after: { ...summary(entry), version: entry.version, confirmed: version, diff: entry.diff },
      });
      await this.afterChange();
      return 'done';
    });
  }

  /** An admin refuses a held catalogue: the one in force stays, and the same offer is not held again. */
  dismiss(version: number, actor: Actor): Promise<'done' | 'not_held'> {
    return this.serialized(async () => {
      const held = await this.parts.store.botCatalogues.get(version);
      if (!held || !(await this.parts.store.botCatalogues.decide(version, 'dismissed'))) return 'not_held';
      await this.parts.audit.record(actor, 'bots.catalogue.dismiss', { target: held.source, before: { ...summary(held), version } });
      return 'done';
    });
  }

  /** Back to the catalogue shipped with the hub, for every site; 'unchanged' when it is in force already. */
  revert(actor: Actor): Promise<'done' | 'unchanged'> {
    return this.serialized(async () => {
      const force = await this.inForce();
      const shipped = shippedCatalogue();
      if (force.entry === undefined || (force.entry.source === 'shipped' && force.hash === shipped.hash && force.problem === null)) return 'unchanged';
      const entry = await this.parts.store.botCatalogues.add({
        state: 'accepted', content: null, hash: shipped.hash, source: 'shipped', sourceId: null, fetchedAt: this.seconds(), recordedAt: this.seconds(),
        bots: shipped.catalogue.bots.length, edition: shipped.catalogue.updated, diff: diffCatalogues(force.catalogue, shipped.catalogue),
      });
      await this.parts.audit.record(actor, 'bots.catalogue.revert', {
        target: 'shipped', before: { ...summary(force.entry), version: force.entry.version },
        after: { ...summary(entry), version: entry.version, diff: entry.diff },
      });
      await this.afterChange();
      return 'done';
    });
  }

  /** Once per catalogue and process (onCatalogueFallback): counted, logged, and on its source's status line. */
  private async fellBack(fallback: CatalogueFallback): Promise<void> {
    this.counters.fallbacks++;
    const { entry } = fallback;
    this.parts.log.error({ catalogueVersion: entry.version, hash: entry.hash.slice(0, 16), source: entry.source }, fallback.problem);
    if (entry.sourceId === null) return;
    try {
      await this.parts.store.feeds.saveState(entry.sourceId, { status: 'error', lastError: sourceError(fallback.problem) });
    } catch (error) {
      this.parts.log.error({ err: error }, 'could not show the bot catalogue fallback on its feed source');
    }
  }

  /** Bounded history, then every site compiled with the new catalogue (each rebuild tells the other hubs). */
  private async afterChange(): Promise<void> {
    await this.parts.store.botCatalogues.prune(KEPT_CATALOGUES);
    for (const site of await this.parts.store.listSites()) {
      try {
        await this.parts.builder.rebuild(site.id);
        this.counters.sitesRebuilt++;
      } catch (error) {
        // That site keeps its previous file (and catalogue) until its next rebuild; the others go on.
        this.counters.rebuildFailures++;
        this.parts.log.error({ err: error, siteId: site.id }, 'could not compile a site with the new bot catalogue');
      }
    }
  }

  /** Off the event loop: a copy may be 1 MiB of JSON (bot-catalogue-job.ts). */
  private async check(text: string) {
    const result = await checkCatalogueInWorker(text);
    this.counters.lastCheckThreadId = result.threadId;
    return result;
  }

  private seconds(): number {
    return Math.floor(this.parts.now() / 1000);
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
