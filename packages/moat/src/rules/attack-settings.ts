/**
 * Attack-detection settings as rules-as-code writes them (docs/attacks.md):
 *
 *   attacks:
 *     sqli: block            # block | monitor | off, per category
 *     xss: monitor
 *     exclude:
 *       - { path: /admin/editor, categories: [xss], params: [body.content] }
 *     headers: [x-search, x-tenant]   # more request headers to judge, besides those always judged
 *
 * A document without `attacks` means attack detection off (older documents and files read that way).
 * A document with an `attacks` section leaves every category it does not name in `monitor`, so a new
 * install (`attacks: {}`) watches everything and blocks nothing until the operator chooses.
 */
import { ATTACK_CATEGORIES, type AttackCategory } from '../attacks/types.js';
import { RuleError } from './rule-error.js';

export type AttackMode = 'block' | 'monitor' | 'off';
export const ATTACK_MODES: readonly AttackMode[] = ['block', 'monitor', 'off'];

/** Detection to skip on some paths: e.g. a CMS editor field that legitimately posts HTML. */
export interface AttackExclusion {
  /** An exact path (`/admin/editor`), or a prefix ending in `*` (`/admin/*` also covers `/admin`). */
  path: string;
  /** Categories not checked there; empty = all. */
  categories: AttackCategory[];
  /**
   * Inputs not checked there, by location: `body` (every body value), `body.content`, `query.q`,
   * `json.user.bio`, `header.user-agent`, `cookie.session`, `path`. An entry covers itself and every
   * location below it (`json.user` covers `json.user.bio`). Empty = every input.
   */
  params: string[];
}

export interface AttackSettings {
  modes: Record<AttackCategory, AttackMode>;
  exclusions: AttackExclusion[];
  /**
   * Request headers judged besides those always judged (ALWAYS_JUDGED_HEADERS): ones the app reads
   * and acts on (logs into SQL, renders, passes to a shell), named lower-case, sorted, unique.
   */
  headers: string[];
}

const MAX_EXCLUSIONS = 200;
const MAX_TEXT = 256;
const EXCLUSION_KEYS = new Set(['path', 'categories', 'params']);
/** Every header name is read on every request: a handful, not a list to scan. */
export const MAX_ATTACK_HEADERS = 32;
const MAX_HEADER_NAME = 64;
/** RFC 9110 token characters, lower case (Node and the Web `Headers` present names lower-cased). */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** The headers attack detection always reads (request-attacks.ts): naming one in `headers` is refused as a mistake. */
export const ALWAYS_JUDGED_HEADERS: readonly string[] = ['user-agent', 'referer', 'cookie', 'x-forwarded-for', 'x-real-ip', 'true-client-ip', 'forwarded'];

/** Settings of a new install: every category watched, nothing blocked. */
export function defaultAttackSettings(): AttackSettings {
  const modes = {} as Record<AttackCategory, AttackMode>;
  for (const c of ATTACK_CATEGORIES) modes[c] = 'monitor';
  return { modes, exclusions: [], headers: [] };
}

/** True when some category is not off. */
export function attacksEnabled(settings: AttackSettings | null): settings is AttackSettings {
  return settings !== null && ATTACK_CATEGORIES.some((c) => settings.modes[c] !== 'off');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCategory(v: unknown): v is AttackCategory {
  return typeof v === 'string' && (ATTACK_CATEGORIES as readonly string[]).includes(v);
}

/**
 * Validates an `attacks` section (a parsed document part, or the hub's stored JSON) into canonical
 * settings; null/undefined → null (off). Throws one RuleError listing every problem.
 * A string (`attacks: block`) sets every category at once.
 */
export function normalizeAttackSettings(raw: unknown): AttackSettings | null {
  if (raw === undefined || raw === null) return null;
  const settings = defaultAttackSettings();
  if (typeof raw === 'string') {
    if (!(ATTACK_MODES as readonly string[]).includes(raw)) throw new RuleError(`attacks: mode must be one of ${ATTACK_MODES.join(', ')}, got ${JSON.stringify(raw)}`);
    for (const c of ATTACK_CATEGORIES) settings.modes[c] = raw as AttackMode;
    return settings;
  }
  if (!isPlainObject(raw)) throw new RuleError('attacks must be an object of category modes (or one mode for all)');
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'exclude' || key === 'headers') continue;
    if (!isCategory(key)) {
      problems.push(`attacks: unknown key ${JSON.stringify(key)} (expected ${ATTACK_CATEGORIES.join(', ')}, exclude, headers)`);
      continue;
    }
    if (typeof value !== 'string' || !(ATTACK_MODES as readonly string[]).includes(value)) {
      problems.push(`attacks.${key}: mode must be one of ${ATTACK_MODES.join(', ')}, got ${JSON.stringify(value)}`);
      continue;
    }
    settings.modes[key] = value as AttackMode;
  }
  const exclude = raw.exclude;
  if (exclude !== undefined && exclude !== null) {
    if (!Array.isArray(exclude)) problems.push('attacks.exclude must be a list');
    else if (exclude.length > MAX_EXCLUSIONS) problems.push(`attacks.exclude: at most ${MAX_EXCLUSIONS} entries`);
    else exclude.forEach((e, i) => RuleError.collect(problems, () => settings.exclusions.push(normalizeExclusion(e)), `attacks.exclude[${i}]: `));
  }
  RuleError.collect(problems, () => { settings.headers = normalizeHeaderNames(raw.headers); }, 'attacks.headers: ');
  if (problems.length > 0) throw new RuleError(problems);
  settings.exclusions.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return settings;
}

function normalizeExclusion(raw: unknown): AttackExclusion {
  if (!isPlainObject(raw)) throw new RuleError('an exclusion must be an object with path (and optionally categories, params)');
  const unknown = Object.keys(raw).filter((k) => !EXCLUSION_KEYS.has(k));
  if (unknown.length > 0) throw new RuleError(`unknown key ${JSON.stringify(unknown[0])} (expected path, categories, params)`);
  const path = raw.path;
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_TEXT) throw new RuleError('path must be a string starting with "/"');
  const categories = list(raw.categories, 'categories').map((c) => {
    if (!isCategory(c)) throw new RuleError(`unknown category ${JSON.stringify(c)} (expected ${ATTACK_CATEGORIES.join(', ')})`);
    return c;
  });
  const params = list(raw.params, 'params').map((p) => {
    if (typeof p !== 'string' || p === '' || p.length > MAX_TEXT) throw new RuleError('params entries must be non-empty strings such as "body", "query.q", "json.user.bio"');
    return p.toLowerCase();
  });
  return { path: path.toLowerCase(), categories: [...new Set(categories)].sort(), params: [...new Set(params)].sort() };
}

/** `attacks.headers`: a list of header names, or null/absent for none. Canonical: lower-case, sorted, unique. */
export function normalizeHeaderNames(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new RuleError('must be a list of header names');
  if (raw.length > MAX_ATTACK_HEADERS) throw new RuleError(`at most ${MAX_ATTACK_HEADERS} header names`);
  const problems: string[] = [];
  const names = new Set<string>();
  for (const entry of raw) {
    const name = typeof entry === 'string' ? entry.trim().toLowerCase() : '';
    // Named by a bounded text: an object entry (from an imported document) is not echoed whole.
    const shown = typeof entry === 'string' ? JSON.stringify(entry.slice(0, 80))
      : typeof entry === 'object' && entry !== null ? (Array.isArray(entry) ? 'a list' : 'an object') : String(entry);
    if (name === '' || name.length > MAX_HEADER_NAME || !HEADER_NAME.test(name)) {
      problems.push(`${shown} is not a header name (letters, digits and !#$%&'*+.^_\`|~-, at most ${MAX_HEADER_NAME})`);
    } else if (ALWAYS_JUDGED_HEADERS.includes(name)) {
      problems.push(`${shown} is judged already (${ALWAYS_JUDGED_HEADERS.join(', ')} always are)`);
    } else names.add(name);
  }
  if (problems.length > 0) throw new RuleError(problems);
  return [...names].sort();
}

function list(v: unknown, name: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_EXCLUSIONS) throw new RuleError(`${name} must be a list`);
  return v;
}

/** The document form again (only what differs from a new install's defaults is implied by omission). */
export function attackSettingsToDocument(settings: AttackSettings): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const c of ATTACK_CATEGORIES) doc[c] = settings.modes[c];
  if (settings.exclusions.length > 0) {
    doc.exclude = settings.exclusions.map((e) => {
      const o: Record<string, unknown> = { path: e.path };
      if (e.categories.length > 0) o.categories = e.categories;
      if (e.params.length > 0) o.params = e.params;
      return o;
    });
  }
  if (settings.headers.length > 0) doc.headers = settings.headers;
  return doc;
}

/**
 * Canonical JSON of the settings without `headers`: what the rules file's `attacks` row stores and its
 * hash covers. The header names travel in a row of their own (attackHeadersJson), so that readers from
 * before them, which refuse an unknown key here, still load the file.
 */
export function attackSettingsJson(settings: AttackSettings): string {
  return JSON.stringify(attackSettingsToDocument({ ...settings, headers: [] }));
}

/** The `attack_headers` row of a rules file: the names as a JSON array. */
export function attackHeadersJson(settings: AttackSettings): string {
  return JSON.stringify(settings.headers);
}
