/**
 * The part of a value a report shows: at most 64 characters around the match, with control
 * characters replaced and long digit runs (card numbers, tokens, phone numbers) masked, so a decision
 * log never carries a whole request value.
 */
const MAX = 64;

export function redactedSnippet(value: string, at: number): string {
  const from = Math.max(0, Math.min(at - 16, value.length - MAX));
  let text = value.slice(from, from + MAX);
  text = text.replace(/[\x00-\x1f\x7f]/g, '?').replace(/\d{6,}/g, (d) => '#'.repeat(d.length));
  if (from > 0) text = '…' + text.slice(1);
  if (from + MAX < value.length) text = text.slice(0, -1) + '…';
  return text;
}
