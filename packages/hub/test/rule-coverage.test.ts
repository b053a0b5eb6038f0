// What the lists show as already covered must agree with what the engine blocks: substring rules match
// case-insensitively there, so they must here too, or a blocked scanner is offered "Block" again.
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import type { StoredRule } from '../src/store/store.js';
import { ruleCoverage } from '../src/ui/rule-coverage.js';

const rule = (kind: StoredRule['kind'], value: string, extra: Partial<StoredRule> = {}): StoredRule =>
  ({ id: `${kind}-${value}`, action: 'block', kind, value, mode: 'block', siteId: 1, createdAt: 0, updatedAt: 0, ...extra }) as StoredRule;

it('substring rules cover values in any case, exact ones preferred; IPs by range; expired rules never', () => {
  const coverage = ruleCoverage([
    rule('userAgent', 'nikto'), rule('userAgent', 'SQLMap'), rule('path', '/wp-admin'),
    rule('ip', '198.51.100.0/24'), rule('ip', '198.51.100.7'), rule('path', '/old', { expires: 1_000 }),
  ], 2_000);
  assert.equal(coverage.of('userAgent', 'Nikto/2.5.0')?.rule.value, 'nikto');
  assert.equal(coverage.of('userAgent', 'Nikto/2.5.0')?.exact, false);
  assert.equal(coverage.of('userAgent', 'sqlmap')?.exact, true, 'same value in another case: undo can delete it');
  assert.equal(coverage.of('path', '/WP-ADMIN/setup.php')?.state, 'blocked');
  assert.equal(coverage.of('path', '/old/page'), undefined, 'an expired rule covers nothing');
  assert.equal(coverage.of('userAgent', 'curl/8'), undefined);
  assert.equal(coverage.of('ip', '198.51.100.7')?.exact, true);
  assert.equal(coverage.of('ip', '198.51.100.8')?.rule.value, '198.51.100.0/24');
  assert.equal(coverage.of('ip', '203.0.113.1'), undefined);
});
