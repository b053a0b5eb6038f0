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
    const source = rulesSourceFromDocumentText(text, fileName, catalogue);
    // Copying rules back costs the event loop too (about 2 µs a rule): more than a site may hold are not sent.
    if (source.rules.length > maxRules) return { ok: false, tooMany: source.rules.length };
    return { ok: true, source };
  } catch (error) {
    if (error instanceof RuleError) return { ok: false, problems: error.problems };
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
