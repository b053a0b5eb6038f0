/**
 * A site's attack-detection settings (moat-waf's `attacks` section): stored as JSON per site, validated
 * by the engine's own normaliser, compiled into the site's Moat rules file (Wafris files cannot carry
 * them: the gem has no attack detection). A site without stored settings has the defaults of a new
 * install: every category in monitor, nothing blocked.
 */
import {
  ATTACK_CATEGORIES, ATTACK_MODES, MAX_ATTACK_HEADERS, RuleError, attackSettingsToDocument, defaultAttackSettings, normalizeAttackSettings,
  type AttackCategory, type AttackMode, type AttackSettings,
} from 'moat-waf';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import { HttpError } from '../server/http-error.js';
import type { HubStore } from '../store/store.js';

export type { AttackCategory, AttackMode, AttackSettings };
export { ATTACK_CATEGORIES, ATTACK_MODES };

/** Most exclusion lines a form may post (the engine's own bound is 200). */
const MAX_EXCLUSION_LINES = 200;

/** The site's settings; the defaults when none are stored or the stored JSON no longer validates. */
export async function siteAttackSettings(store: HubStore, siteId: number): Promise<AttackSettings> {
  const json = await store.getAttackSettings(siteId);
  if (json === undefined) return defaultAttackSettings();
  try {
    return normalizeAttackSettings(JSON.parse(json)) ?? defaultAttackSettings();
  } catch {
    return defaultAttackSettings();
  }
}

/** Stores new settings, recompiles the site's files (clients get them on their next download), audits. */
export async function saveSiteAttackSettings(
  parts: { store: HubStore; builder: RulesBuilder; audit: AuditLog; now: () => number },
  siteId: number, settings: AttackSettings, actor: Actor,
): Promise<void> {
  const before = await siteAttackSettings(parts.store, siteId);
  await parts.store.saveAttackSettings(siteId, JSON.stringify(attackSettingsToDocument(settings)), Math.floor(parts.now() / 1000));
  await parts.builder.rebuild(siteId);
  await parts.audit.record(actor, 'attacks.update', { siteId, target: 'attacks', before: attackSettingsToDocument(before), after: attackSettingsToDocument(settings) });
}

/**
 * The Rules page form: `mode_<category>` selects, `exclusions` with one exclusion a line:
 * `<path> [categories|*] [params|*]`, lists comma-separated, e.g. `/admin/editor xss body.content`, and
 * `headers`, more header names to judge, separated by commas or blanks. Refused with a 400 naming the problem.
 */
export function attackSettingsFromForm(form: Record<string, string | undefined>): AttackSettings {
  const doc: Record<string, unknown> = {};
  for (const c of ATTACK_CATEGORIES) doc[c] = form[`mode_${c}`] ?? 'monitor';
  const lines = (form.exclusions ?? '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length > MAX_EXCLUSION_LINES) throw new HttpError(400, `at most ${MAX_EXCLUSION_LINES} exclusions`, 'invalid_request');
  doc.exclude = lines.map((line) => {
    const [path, categories, params, ...rest] = line.split(/\s+/);
    if (rest.length > 0) throw new HttpError(400, `exclusion "${line.slice(0, 80)}": expected <path> [categories] [params]`, 'invalid_request');
    const list = (v: string | undefined) => (v === undefined || v === '*' ? [] : v.split(',').filter((s) => s !== ''));
    return { path, categories: list(categories), params: list(params) };
  });
  const headers = (form.headers ?? '').split(/[\s,]+/).filter((h) => h !== '');
  // Bounded before validation so a huge field costs no more than the engine's own bound.
  if (headers.length > MAX_ATTACK_HEADERS) throw new HttpError(400, `at most ${MAX_ATTACK_HEADERS} headers`, 'invalid_request');
  doc.headers = headers;
  try {
    return normalizeAttackSettings(doc)!;
  } catch (error) {
    if (error instanceof RuleError) throw new HttpError(400, error.problems.join('; '), 'invalid_request');
    throw error;
  }
}

/** The extra headers as the form's field shows them. */
export function headerNamesText(settings: AttackSettings): string {
  return settings.headers.join(', ');
}

/** The exclusions as the form's text area shows them. */
export function exclusionLines(settings: AttackSettings): string {
  return settings.exclusions
    .map((e) => `${e.path} ${e.categories.length > 0 ? e.categories.join(',') : '*'} ${e.params.length > 0 ? e.params.join(',') : '*'}`)
    .join('\n');
}
