/** What changed between two bot catalogues: bots added, removed, and changed (category, tokens, verify list, name). Pure. */
import type { BotCatalogue, BotEntry } from 'moat-waf';
import type { BotCatalogueDiff } from '../store/bot-catalogue-records.js';

/** Ids listed per direction: enough to see what happened, bounded for the store and the page. */
export const CATALOGUE_DIFF_SAMPLE = 50;

function same(a: BotEntry, b: BotEntry): boolean {
  return a.name === b.name && a.category === b.category && a.verify === b.verify
    && a.tokens.length === b.tokens.length && a.tokens.every((t) => b.tokens.includes(t));
}

export function diffCatalogues(before: BotCatalogue, after: BotCatalogue): BotCatalogueDiff {
  const old = new Map(before.bots.map((b) => [b.id, b]));
  const now = new Map(after.bots.map((b) => [b.id, b]));
  const added = after.bots.filter((b) => !old.has(b.id)).map((b) => b.id);
  const removed = before.bots.filter((b) => !now.has(b.id)).map((b) => b.id);
  const changed = after.bots.filter((b) => {
    const was = old.get(b.id);
    return was !== undefined && !same(was, b);
  }).map((b) => b.id);
  return {
    added: added.length, removed: removed.length, changed: changed.length,
    addedIds: added.slice(0, CATALOGUE_DIFF_SAMPLE), removedIds: removed.slice(0, CATALOGUE_DIFF_SAMPLE), changedIds: changed.slice(0, CATALOGUE_DIFF_SAMPLE),
  };
}
