/**
 * Rules as code: the JSON/YAML document authors write, to and from the rule model.
 *
 *   { "allow": { "ips": [...] },
 *     "block": { "ips", "countries", "asns", "lists", "userAgents", "paths", "params", "hosts", "methods" },
 *     "rateLimits": [{ "path", "method", "limit", "window", "key" }] }
 *
 * Errors name the file, line and entry (`rules.json:7: block.ips[2]: invalid IP …`), and a document
 * with several mistakes reports them all (one RuleError, one problem a line, at most MAX_PROBLEMS).
 */
import { Lexer, LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { formatDuration } from './duration.js';
import { formatRateLimitKey } from './rate-limit-key.js';
import { contentId, normalizeRule } from './normalize-rule.js';
import type { RuleInput } from './normalize-rule.js';
import { RuleError } from './rule-error.js';
import { MoatError } from '../errors/moat-error.js';
import type { Rule, RuleKind } from './types.js';
import { attackSettingsToDocument, normalizeAttackSettings, type AttackSettings } from './attack-settings.js';
import { botSettingsToDocument, normalizeBotSettings, type BotSettings } from './bot-settings.js';
import type { BotCatalogue } from '../bots/catalogue.js';

/** Document key → rule kind, in the order they are written back. */
const BLOCK_KEYS: Record<string, RuleKind> = {
  ips: 'ip', countries: 'country', asns: 'asn', lists: 'list', userAgents: 'userAgent', paths: 'path',
  params: 'param', hosts: 'host', methods: 'method', keys: 'key',
};
const ALLOW_KEYS: Record<string, RuleKind> = { ips: 'ip' };
const ENTRY_FIELDS = ['value', 'id', 'note', 'mode', 'expires'] as const;
const RATE_FIELDS = ['path', 'method', 'match', 'limit', 'window', 'key', 'id', 'note', 'mode', 'expires'] as const;
const ENTRY_KEYS = new Set<string>(ENTRY_FIELDS);
const RATE_KEYS = new Set<string>(RATE_FIELDS);
/** An entry's fields as written: normalizeRule checks each one, so they are typed to fit any field of its input. */
type UncheckedFields<Field extends string> = { readonly [F in Field]: never };
/** Problems listed at most; a document that is wrong everywhere gets a count for the rest. */
const MAX_PROBLEMS = 100;

export interface RulesDocument {
  allow?: Record<string, unknown[]>;
  block?: Record<string, unknown[]>;
  rateLimits?: Record<string, unknown>[];
  /** Attack detection settings (rules/attack-settings.ts); absent = off. */
  attacks?: Record<string, unknown>;
  /** Bot settings (rules/bot-settings.ts): modes by bot category or id; absent = off. */
  bots?: Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  const unknown = Object.keys(obj).filter((k) => !allowed.has(k));
  if (unknown.length > 0) {
    const names = unknown.map((k) => JSON.stringify(k)).join(', ');
    throw new RuleError(`${where}: unknown key${unknown.length > 1 ? 's' : ''} ${names} (expected ${[...allowed].join(', ')})`);
  }
}

/**
 * Converts a parsed document into rules. `lineOf(path)` gives the line of an entry for messages.
 * Identical entries collapse into one rule; two different rules with one id are an error.
 * Every problem of the document is collected; if there is any, one RuleError lists them all.
 */
export function rulesFromDocument(doc: unknown, lineOf: (path: (string | number)[]) => string = () => ''): Rule[] {
  if (!isPlainObject(doc)) throw new RuleError(`${lineOf([])}the rules document must be an object with allow, block and rateLimits`);
  const problems: string[] = [];
  const check = <T>(path: (string | number)[], part: () => T, where = '') => RuleError.collect(problems, part, `${lineOf(path)}${where}`);
  check([], () => checkKeys(doc, new Set(['allow', 'block', 'rateLimits', 'attacks', 'bots', '$schema', 'version']), 'rules document'));
  const rules: Rule[] = [];
  const byId = new Map<string, Rule>();
  const add = (path: (string | number)[], make: () => Rule) => {
    const rule = check(path, make, `${formatPath(path)}: `);
    if (rule === undefined) return;
    const prev = byId.get(rule.id);
    if (prev) {
      if (JSON.stringify(prev) !== JSON.stringify(rule)) problems.push(`${lineOf(path)}${formatPath(path)}: duplicate id ${JSON.stringify(rule.id)}`);
      return;
    }
    byId.set(rule.id, rule);
    rules.push(rule);
  };
  for (const action of ['allow', 'block'] as const) {
    const section = doc[action];
    if (section === undefined || section === null) continue;
    const keys = action === 'allow' ? ALLOW_KEYS : BLOCK_KEYS;
    if (!isPlainObject(section)) {
      problems.push(`${lineOf([action])}${action} must be an object`);
      continue;
    }
    check([action], () => checkKeys(section, new Set(Object.keys(keys)), action));
    for (const [key, kind] of Object.entries(keys)) {
      const list = section[key];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        problems.push(`${lineOf([action, key])}${action}.${key} must be a list`);
        continue;
      }
      list.forEach((entry, i) => add([action, key, i], () => normalizeRule(entryInput(action, kind, entry))));
    }
  }
  const rls = doc.rateLimits;
  if (rls !== undefined && rls !== null) {
    if (!Array.isArray(rls)) problems.push(`${lineOf(['rateLimits'])}rateLimits must be a list`);
    else {
      rls.forEach((entry, i) =>
        add(['rateLimits', i], () => {
          if (!isPlainObject(entry)) throw new RuleError('a rate limit must be an object with path, limit and window');
          checkKeys(entry, RATE_KEYS, 'rate limit');
          const e = entry as UncheckedFields<(typeof RATE_FIELDS)[number]>;
          return normalizeRule({
            id: e.id, action: 'block', kind: 'rateLimit', value: e.path, note: e.note, mode: e.mode, expires: e.expires,
            rateLimit: { path: e.path, method: e.method, match: e.match, limit: e.limit, window: e.window, key: e.key },
          });
        }),
      );
    }
  }
  if (problems.length > 0) throw new RuleError(capped(problems));
  return rules;
}

function capped(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [...problems.slice(0, MAX_PROBLEMS), `… and ${problems.length - MAX_PROBLEMS} more problems`];
}

function entryInput(action: 'allow' | 'block', kind: RuleKind, entry: unknown): RuleInput {
  if (typeof entry === 'string') return { action, kind, value: entry };
  if (!isPlainObject(entry)) throw new RuleError('an entry must be a string or an object with "value"');
  checkKeys(entry, ENTRY_KEYS, 'entry');
  const e = entry as UncheckedFields<(typeof ENTRY_FIELDS)[number]>;
  return { action, kind, value: e.value, id: e.id, note: e.note, mode: e.mode, expires: e.expires };
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Parses a JSON or YAML rules document (JSON is YAML), with line numbers in every error. */
export function parseRulesDocument(text: string, fileName = 'rules'): Rule[] {
  return parseRulesSource(text, fileName).rules;
}

/** The rules and the attack settings of a document (`attacks` absent → null, detection off). */
export interface RulesSource {
  rules: Rule[];
  attacks: AttackSettings | null;
  /** The `bots` section with the shipped catalogue; null when absent (bot detection off). */
  bots: BotSettings | null;
}

/** The attack settings of a parsed document; problems carry `prefix` (file and line). */
export function attacksFromDocument(doc: unknown, prefix = ''): AttackSettings | null {
  if (!isPlainObject(doc)) return null;
  const problems: string[] = [];
  const settings = RuleError.collect(problems, () => normalizeAttackSettings(doc.attacks), prefix);
  if (problems.length > 0) throw new RuleError(capped(problems));
  return settings ?? null;
}

/** The bot settings of a parsed document, against the shipped catalogue; problems carry `prefix`. */
export function botsFromDocument(doc: unknown, prefix = '', catalogue?: BotCatalogue): BotSettings | null {
  if (!isPlainObject(doc)) return null;
  const problems: string[] = [];
  const settings = RuleError.collect(problems, () => normalizeBotSettings(doc.bots, catalogue), prefix);
  if (problems.length > 0) throw new RuleError(capped(problems));
  return settings ?? null;
}

/**
 * parseRulesDocument, with the document's attack and bot settings too. `botCatalogue`: the catalogue
 * bot ids are checked against (a hub's, delivered by a feed); the shipped one by default.
 */
export function parseRulesSource(text: string, fileName = 'rules', botCatalogue?: BotCatalogue): RulesSource {
  checkNesting(text, fileName);
  const lineCounter = new LineCounter();
  const doc = unreadable(fileName, () => parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true }));
  if (doc.errors.length > 0) {
    throw new RuleError(capped(doc.errors.map((e) => `${fileName}:${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`)));
  }
  const lineOf = (path: (string | number)[]): string => {
    let node: unknown = doc.contents;
    for (const p of path) {
      if (isMap(node) || isSeq(node)) {
        const next = (node as { get(k: unknown, keepScalar: boolean): unknown }).get(p, true);
        if (next === undefined) break;
        node = next;
      } else break;
    }
    const range = (node as YamlNode | null)?.range;
    return range ? `${fileName}:${lineCounter.linePos(range[0]).line}: ` : `${fileName}: `;
  };
  const js: unknown = unreadable(fileName, () => doc.toJS({ maxAliasCount: 100 }));
  const rules = rulesFromDocument(js, lineOf);
  return { rules, attacks: attacksFromDocument(js, lineOf(['attacks'])), bots: botsFromDocument(js, lineOf(['bots']), botCatalogue) };
}

/**
 * Runs a step of the YAML library, whose refusals are plain errors (too many aliases is a ReferenceError):
 * they are the document's problem, so they become a RuleError naming the file, not an internal error.
 */
function unreadable<T>(fileName: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof MoatError) throw e;
    throw new RuleError(`${fileName}: the document cannot be read: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** A rules document never nests deeper than a few levels; this bound leaves room and nothing more. */
const MAX_NESTING = 64;

/**
 * Refuses deeply nested documents before they are parsed. For flow collections (`[[[[…`) the YAML
 * parser's time and memory grow steeply with depth (30,000 levels took seconds; 100,000 ran out of
 * memory); block collections (`- - - - … x`, or one more indent per line) made its composer overflow the
 * stack at about 2,000 levels. The lexer walks the text without recursion and knows quoted strings, and
 * the walk stops at the first level too deep.
 *
 * Block levels are counted by column: an indicator (`-`, `?`) opens a level at its column, a key (`:`) at
 * the column where the key starts, and the first content of a line closes the levels at or right of its
 * column. A real nesting moves at least one column right per level (a sequence under a key may share its
 * column), so the count is at least half the real depth: an attacker cannot go past twice the bound.
 */
function checkNesting(text: string, fileName: string): void {
  const tooDeep = () => new RuleError(`${fileName}: nested more than ${MAX_NESTING} levels deep; a rules document needs a few`);
  const levels: number[] = []; // columns of the open block levels, ascending
  let flow = 0;
  let column = 0;
  let lineStart = true;
  let nodeColumn = 0; // where the current node (a key, perhaps) started on this line; -1: at the next content
  for (const token of new Lexer().lex(text)) {
    const first = token.charCodeAt(0);
    // Zero-width markers the lexer adds (document, scalar, flow end) and a byte-order mark.
    if ((token.length === 1 && (first === 0x02 || first === 0x18 || first === 0x1f)) || first === 0xfeff) continue;
    if (lineStart) {
      // Indentation, blank lines and comments do not close levels; the first content of the line does.
      if (first === 0x20 || first === 0x09) {
        column = token.length;
        continue;
      }
      if (token === '\n' || token === '\r\n' || first === 0x23) {
        column = 0;
        continue;
      }
      if (flow === 0) while (levels.length > 0 && levels[levels.length - 1]! >= column) levels.pop();
      nodeColumn = column;
      lineStart = false;
    }
    if (flow === 0 && (token === '-' || token === '?' || token === ':')) {
      levels.push(token === ':' && nodeColumn >= 0 ? nodeColumn : column);
      if (levels.length + flow > MAX_NESTING) throw tooDeep();
      nodeColumn = -1;
    } else if (token === '[' || token === '{') {
      if (levels.length + ++flow > MAX_NESTING) throw tooDeep();
    } else if (token === ']' || token === '}') {
      flow--;
    } else if (nodeColumn < 0 && first !== 0x20 && first !== 0x09) {
      nodeColumn = column;
    }
    const newline = token.lastIndexOf('\n');
    if (newline < 0) column += token.length;
    else {
      column = token.length - newline - 1;
      lineStart = newline === token.length - 1;
    }
  }
}

/** An expiry as a document writes it; a file from before expiries were bounded may hold one no Date can show. */
function expiryText(ms: number): string | number {
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date.toISOString() : ms;
}

/** The reverse of rulesFromDocument, for `moat-waf rules list` exports and the hub's export. */
export function rulesToDocument(rules: readonly Rule[], attacks: AttackSettings | null = null, bots: BotSettings | null = null): RulesDocument {
  const doc: RulesDocument = {};
  if (attacks !== null) doc.attacks = attackSettingsToDocument(attacks);
  if (bots !== null) doc.bots = botSettingsToDocument(bots);
  const entry = (r: Rule): unknown => {
    const extra = r.note !== undefined || r.mode !== 'block' || r.expires !== undefined || r.id !== contentId(r);
    if (!extra) return r.value;
    const o: Record<string, unknown> = { value: r.value };
    if (r.id !== contentId(r)) o.id = r.id;
    if (r.note !== undefined) o.note = r.note;
    if (r.mode !== 'block') o.mode = r.mode;
    if (r.expires !== undefined) o.expires = expiryText(r.expires);
    return o;
  };
  for (const r of rules) {
    if (r.kind === 'rateLimit') {
      const rl = r.rateLimit;
      const o: Record<string, unknown> = { path: rl.match === 'prefix' ? `${rl.path}*` : rl.path };
      if (rl.method) o.method = rl.method;
      o.limit = rl.limit;
      o.window = formatDuration(rl.windowMs);
      if (rl.key !== undefined) o.key = formatRateLimitKey(rl.key);
      if (r.id !== contentId(r)) o.id = r.id;
      if (r.note !== undefined) o.note = r.note;
      if (r.mode !== 'block') o.mode = r.mode;
      if (r.expires !== undefined) o.expires = expiryText(r.expires);
      (doc.rateLimits ??= []).push(o);
      continue;
    }
    const keys = r.action === 'allow' ? ALLOW_KEYS : BLOCK_KEYS;
    const key = Object.keys(keys).find((k) => keys[k] === r.kind)!;
    const section = (doc[r.action] ??= {});
    (section[key] ??= []).push(entry(r));
  }
  return doc;
}
