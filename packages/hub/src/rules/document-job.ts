/**
 * Reads one rules document in a worker thread (document-reader.ts runs it): the YAML parser and the
 * engine's checks take about a microsecond per character, seconds for an import near its size limit,
 * which must not hold the hub's event loop. Its answers are data, not thrown errors: a RuleError's
 * list of problems would not survive the trip back.
 */
import type { BotCatalogue, RulesSource } from 'moat-waf';
import { RuleError, rulesSourceFromDocumentText } from '../distribution/compile.js';

export interface DocumentJobInput {
  text: string;
  fileName: string;
  catalogue: BotCatalogue;
  maxRules: number;
}

export type DocumentJobAnswer =
  | { ok: true; source: RulesSource }
  | { ok: false; tooMany: number }
  | { ok: false; problems: readonly string[] }
  | { ok: false; message: string };

export function run({ text, fileName, catalogue, maxRules }: DocumentJobInput): DocumentJobAnswer {
  try {
    // A JSON document far over the cap is refused on its list entries, before each becomes a rule: 700 000
    // addresses took the worker 13 s to build and then refuse. (JSON.parse is fast; YAML is read in full.)
    const entries = jsonListEntries(text, maxRules * EARLY_REFUSAL_FACTOR);
    if (entries > maxRules * EARLY_REFUSAL_FACTOR) return { ok: false, tooMany: entries };
    const source = rulesSourceFromDocumentText(text, fileName, catalogue);
    // Copying rules back costs the event loop too (about 2 µs a rule): more than a site may hold are not sent.
    if (source.rules.length > maxRules) return { ok: false, tooMany: source.rules.length };
    return { ok: true, source };
  } catch (error) {
    if (error instanceof RuleError) return { ok: false, problems: error.problems };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * A document with more list entries than this many times the rule cap is refused before it is read as
 * rules. Each entry of a rules list is one rule; the slack covers lists that are not rules (methods,
 * bot ids, attack settings), so no document within the cap is refused on this count.
 */
export const EARLY_REFUSAL_FACTOR = 2;

/** Array items in a JSON value, all depths, counted up to just past `stopAfter`. */
export function countListEntries(value: unknown, stopAfter: number): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && count <= stopAfter) {
    const next = pending.pop();
    if (Array.isArray(next)) {
      count += next.length;
      for (const item of next) if (item !== null && typeof item === 'object') pending.push(item);
    } else if (next !== null && typeof next === 'object') {
      for (const item of Object.values(next)) if (item !== null && typeof item === 'object') pending.push(item);
    }
  }
  return count;
}

/** countListEntries of a JSON text; 0 for text that is not JSON (YAML), which the full read judges. */
function jsonListEntries(text: string, stopAfter: number): number {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return 0;
  try {
    return countListEntries(JSON.parse(text), stopAfter);
  } catch {
    return 0;
  }
}
