import type { Rule } from 'moat-waf';
import { splitByFamily, tryParseRange } from 'moat-waf/ip';

/** Broader than a /8 of IPv4 or a /16 of IPv6: far beyond any one network an operator means to name. */
const MAX_IPV4_ADDRESSES = 1n << 24n;
const MAX_IPV6_ADDRESSES = 1n << 112n;
const ALL_IPV4 = 1n << 32n;

/** Whitespace, control and invisible format characters: none of them changes what a value means to a reader. */
const INVISIBLE = /[\p{White_Space}\p{Cc}\p{Cf}]/gu;

/**
 * Why a rule (in its canonical form) matches every request or nearly every address, or looks as if it
 * did, or undefined. Substring rules: a value that is empty or just `/` once whitespace and invisible
 * characters are left out (every path contains `/`; `\u3000/\u3000` shows as `/`). IP rules: a range
 * that covers more than a /8 of IPv4 or a /16 of IPv6, counting the IPv4 part of an IPv6 range too,
 * since the engine matches IPv4 clients against it.
 */
export function broadRuleReason(rule: Pick<Rule, 'kind' | 'value'>): string | undefined {
  switch (rule.kind) {
    case 'path':
    case 'userAgent':
    case 'param':
    case 'host': {
      const visible = rule.value.replace(INVISIBLE, '');
      const name = kindName(rule.kind);
      if (visible === '') return `this ${name} rule has no visible text, so it would match every request or look as if it did`;
      if (visible === '/' && rule.value !== '/') return `this ${name} rule shows as just "/" (the rest is spaces or invisible characters)`;
      if (visible === '/') return `this ${name} rule is just "/", which ${rule.kind === 'path' ? 'every path contains' : 'nearly every such value contains'}`;
      return undefined;
    }
    case 'ip': {
      const range = tryParseRange(rule.value);
      if (!range) return undefined; // not an address at all: the engine's validation reports it
      const found: string[] = [];
      for (const part of splitByFamily(range)) {
        const size = part.end - part.start + 1n;
        if (part.family === 4 && size >= ALL_IPV4) found.push('every IPv4 address');
        else if (part.family === 4 && size > MAX_IPV4_ADDRESSES) found.push(`${size.toLocaleString('en-US')} IPv4 addresses, more than a /8`);
        else if (part.family === 6 && size > MAX_IPV6_ADDRESSES) found.push('more than a /16 of IPv6');
      }
      if (found.length > 0) return `${rule.value} covers ${found.join(' and ')}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** True when the text holds a control or invisible format character (a reader cannot see what it matches). */
export function hasHiddenCharacters(text: string): boolean {
  return /[\p{Cc}\p{Cf}]/u.test(text);
}

export function kindName(kind: Rule['kind']): string {
  switch (kind) {
    case 'ip': return 'IP';
    case 'userAgent': return 'user-agent';
    case 'param': return 'parameter';
    case 'rateLimit': return 'rate-limit';
    default: return kind;
  }
}
