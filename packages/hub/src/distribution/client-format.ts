import type { RulesFormat } from '../store/store.js';

/**
 * Which file format a downsync client gets: Wafris clients (their `client` parameter starts with
 * "wafris", such as the Ruby gem) or an explicit `format=wafris` get the Wafris layout; everyone else
 * gets Moat's.
 */
export function chooseFormat(query: { client?: string | undefined; format?: string | undefined }): RulesFormat {
  const format = query.format?.toLowerCase();
  if (format === 'wafris' || format === 'moat') return format;
  if (query.client?.trim().toLowerCase().startsWith('wafris')) return 'wafris';
  return 'moat';
}
