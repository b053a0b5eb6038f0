import type { BotCatalogue, RulesSource } from 'moat-waf';
import { RuleError } from '../distribution/compile.js';
import { HttpError } from '../server/http-error.js';
import { JobLimit, runJobInWorker } from '../workers/module-worker.js';
import { run as readInPlace, type DocumentJobAnswer, type DocumentJobInput } from './document-job.js';

/**
 * Documents up to this size are read in place (tens of milliseconds at most). Reading costs about
 * 1 µs per character on the event loop (a 4.75 MB import held it 2.4 s just to find its last entry
 * malformed), so anything larger goes to a worker, whose start-up only big imports pay.
 */
export const INLINE_DOCUMENT_CHARS = 32 * 1024;

/** Big documents read at once per process; more wait (each holds a thread and its document's memory). */
const documentReaders = new JobLimit(2);

/** Documents read in a worker since the process started (tests read it). */
export const documentReads = { inWorker: 0 };

/**
 * A rules document's rules and settings, validated. Throws RuleError naming the problems, and
 * `400 too_many_rules` for a document of more than `maxRules` rules.
 */
export async function readRulesDocument(text: string, fileName: string, catalogue: BotCatalogue, maxRules: number): Promise<RulesSource> {
  const input: DocumentJobInput = { text, fileName, catalogue, maxRules };
  let answer: DocumentJobAnswer;
  if (text.length <= INLINE_DOCUMENT_CHARS) answer = readInPlace(input);
  else {
    documentReads.inWorker += 1;
    answer = await documentReaders.run(() => runJobInWorker(new URL('./document-job', import.meta.url), input, 'rules document'));
  }
  if (answer.ok) return answer.source;
  if ('tooMany' in answer) throw new HttpError(400, `the document holds ${answer.tooMany} rules; ${tooManyRulesAdvice(maxRules)}`, 'too_many_rules');
  if ('problems' in answer) throw new RuleError(answer.problems);
  throw new Error(answer.message);
}

/** What an admin reads when a site would pass its rule cap: the cap, and where long lists belong. */
export function tooManyRulesAdvice(maxRules: number): string {
  return `at most ${maxRules} rules per site (long lists of addresses belong in a data feed, on the Data page)`;
}
