// The names each options object has, so a misspelt one (`rule:` for `rules:`) stops the start with an
// OptionError instead of leaving a firewall that silently judges nothing. TypeScript catches it in an
// object literal; JavaScript, JSON configuration and spread objects reach Moat unchecked.
import { OptionError } from '../errors/moat-error.js';
import type { MoatOptions } from './options.js';

// `satisfies` keeps the list and MoatOptions in step: a name missing here, or one MoatOptions lacks, fails to compile.
export const FIREWALL_OPTIONS = {
  rules: true, data: true, dataMode: true, engine: true, now: true, rateLimitStore: true, user: true,
  trustedProxies: true, ipHeader: true, ipHeaders: true, body: true, blocked: true, rateLimited: true,
  failClosed: true, onDecision: true, onError: true, logger: true, logIntervalMs: true, env: true,
} satisfies Record<keyof MoatOptions, true>;

export const FIREWALL_OPTION_NAMES: readonly string[] = Object.keys(FIREWALL_OPTIONS);

/** The fields of `options` a Firewall takes (a managed firewall hands its own on to the Firewall it is). */
export function firewallOptionsOf(options: object): MoatOptions {
  const picked: Record<string, unknown> = {};
  for (const name of FIREWALL_OPTION_NAMES) {
    if (name in options) picked[name] = (options as Record<string, unknown>)[name];
  }
  return picked as MoatOptions;
}

/**
 * Throws an OptionError naming every option of `options` that is not in `known` (options set to
 * undefined are let through: spreading a config with unset fields is common), with the nearest known
 * name when one is close. `where`: what took the options, for the message.
 */
export function checkOptionNames(options: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(options).filter((name) => !known.includes(name) && (options as Record<string, unknown>)[name] !== undefined);
  if (unknown.length === 0) return;
  const described = unknown.map((name) => {
    if (name === 'firewall') return "'firewall' (a shared firewall goes to an adapter, `moat(firewall)`, not to a new one)";
    const near = nearest(name, known);
    return near === null ? `'${name}'` : `'${name}' (did you mean '${near}'?)`;
  });
  throw new OptionError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${described.join(', ')}; ` +
    'options are case-sensitive (docs/api.md lists them)');
}

/** The known name closest to `name`: the same letters in another case, or a few edits away (a quarter of its length, at least two). */
function nearest(name: string, known: readonly string[]): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const candidate of known) {
    if (candidate.toLowerCase() === lower) return candidate;
    const d = editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, or `limit` as soon as it is certain to be at least that (names are short). */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      rowMin = Math.min(rowMin, current[j]!);
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}
