/** What the attack detectors recognise, where a value came from, and what a detection reports. */
import { OptionError } from '../errors/moat-error.js';

export const ATTACK_CATEGORIES = ['sqli', 'xss', 'traversal', 'shell', 'ssrf', 'nosql', 'prototype', 'template'] as const;
export type AttackCategory = (typeof ATTACK_CATEGORIES)[number];

export type AttackLocation = 'query' | 'body' | 'json' | 'path' | 'header' | 'cookie';

/**
 * The enabled categories as a bit set (bit i = ATTACK_CATEGORIES[i]): the request path tests one bit
 * per detector instead of hashing into a Set. Build it once with attackCategorySet().
 */
export type AttackCategorySet = number;

export const ALL_ATTACK_CATEGORIES: AttackCategorySet = (1 << ATTACK_CATEGORIES.length) - 1;

/** Each category's bit in an AttackCategorySet, as constants for the detectors' tables. */
export const B_SQLI = 1 << ATTACK_CATEGORIES.indexOf('sqli');
export const B_XSS = 1 << ATTACK_CATEGORIES.indexOf('xss');
export const B_TRAVERSAL = 1 << ATTACK_CATEGORIES.indexOf('traversal');
export const B_SHELL = 1 << ATTACK_CATEGORIES.indexOf('shell');
export const B_SSRF = 1 << ATTACK_CATEGORIES.indexOf('ssrf');
export const B_NOSQL = 1 << ATTACK_CATEGORIES.indexOf('nosql');
export const B_PROTOTYPE = 1 << ATTACK_CATEGORIES.indexOf('prototype');
export const B_TEMPLATE = 1 << ATTACK_CATEGORIES.indexOf('template');

export function attackCategorySet(categories: Iterable<AttackCategory>): AttackCategorySet {
  let set = 0;
  for (const c of categories) {
    const i = ATTACK_CATEGORIES.indexOf(c);
    if (i < 0) throw new OptionError(`unknown attack category: ${String(c)}`);
    set |= 1 << i;
  }
  return set;
}

export function categoryBit(category: AttackCategory): number {
  return 1 << ATTACK_CATEGORIES.indexOf(category);
}

export interface AttackMatch {
  category: AttackCategory;
  location: AttackLocation;
  /** The input's name below its location, when known: `q` in `query.q`, `user.name` in `json.user.name`. */
  field?: string;
  /** Up to 64 characters around the match, long digit runs masked, control characters replaced. */
  snippet: string;
  /** Which structure was recognised, e.g. "string closed, OR clause added". Static text, never input. */
  reason: string;
}

/** What one detector found: where in the examined text, and why. */
export interface Finding {
  at: number;
  reason: string;
}

/** Where a match was found, as decisions and reports show it: `query.q`, `json.user.name`, `path`. */
export function attackWhere(match: AttackMatch): string {
  return match.field === undefined || match.field === '' ? match.location : `${match.location}.${match.field}`;
}
