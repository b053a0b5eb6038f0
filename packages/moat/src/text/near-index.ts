// Searches that try the first few positions in JavaScript. A native indexOf is a call of its own (tens
// of ns before it reads anything); text with the sought character every other position (`$($($(…`,
// `&{&{…`, 64 KiB of it in a hostile body) made one call per character, most of a detector's cost
// there. Prose, where the pattern is rare, pays a few reads more per search.

/** Positions tried in JavaScript before a native search takes over. */
export const NEAR = 4;

/** `s.indexOf(pattern, from)` for a non-empty `pattern`. */
export function indexOfNear(s: string, pattern: string, from: number): number {
  const first = pattern.charCodeAt(0);
  const last = s.length - pattern.length;
  const end = Math.min(last + 1, from + NEAR);
  for (let i = from; i < end; i++) if (s.charCodeAt(i) === first && (pattern.length === 1 || s.startsWith(pattern, i))) return i;
  return end > last ? -1 : s.indexOf(pattern, end);
}
