/**
 * The catalogue shipped in the package (data/bots.json), read on first use: only compiling a rules
 * document needs it (a rules file carries its own copy), so serving processes never read it.
 */
import { readFileSync } from 'node:fs';
import { normalizeBotCatalogue, type BotCatalogue } from './catalogue.js';

let shipped: BotCatalogue | null = null;

export function shippedBotCatalogue(): BotCatalogue {
  // src/bots and dist/bots both sit two levels below the package root, where data/ is.
  shipped ??= normalizeBotCatalogue(JSON.parse(readFileSync(new URL('../../data/bots.json', import.meta.url), 'utf8')));
  return shipped;
}
