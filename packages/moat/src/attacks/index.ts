/** Request-side attack detection by syntax (docs/attacks.md). Pure functions: no I/O, no state but a work counter. */
export { detectAttack, MAX_VALUE } from './detect-attack.js';
export { detectInJson, DEFAULT_JSON_LIMITS, type JsonWalkLimits } from './detect-json.js';
export { ALL_ATTACK_CATEGORIES, ATTACK_CATEGORIES, attackCategorySet, categoryBit } from './types.js';
export type { AttackCategory, AttackCategorySet, AttackLocation, AttackMatch } from './types.js';
export { resetWorkSteps, workSteps } from './work-counter.js';
