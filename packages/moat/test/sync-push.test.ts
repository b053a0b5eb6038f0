import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { MIN_EMPTY_HOLD_MS, nextAskDelay, readPushAnswer, RECONNECT_SPREAD_MS, waitToOffer } from '../src/sync/long-poll.js';

it('reads the hub\'s X-Moat-Wait header: seconds held, busy, closing, and anything else as "does not hold"', () => {
  assert.deepEqual(readPushAnswer('25'), { kind: 'held', seconds: 25 });
  assert.deepEqual(readPushAnswer(' Busy '), { kind: 'busy' });
  assert.deepEqual(readPushAnswer('closing'), { kind: 'closing' });
  for (const odd of [null, '', '0', '-5', '1e3', 'yes', '9999999']) assert.deepEqual(readPushAnswer(odd), { kind: 'none' }, String(odd));
});

it('asks again at once after a hold, spread after "closing", and at the poll interval for old or busy hubs', () => {
  const base = { intervalMs: 60_000, jitter: 0.1, waitSeconds: 25 };
  assert.equal(nextAskDelay({ kind: 'held', seconds: 25 }, { ...base, status: 304, tookMs: 25_000 }), 0);
  assert.equal(nextAskDelay({ kind: 'held', seconds: 25 }, { ...base, status: 200, tookMs: 3 }), 0, 'a new file: ask again at once');
  assert.equal(nextAskDelay({ kind: 'held', seconds: 25 }, { ...base, status: 304, tookMs: 10 }), MIN_EMPTY_HOLD_MS - 10,
    'an empty hold that came back at once does not turn into a busy loop');
  assert.equal(nextAskDelay({ kind: 'held', seconds: 25 }, { ...base, waitSeconds: 0, status: 304, tookMs: 10 }), 0,
    'a probe (wait=0) that learnt the hub holds is followed by a held request at once');
  const spread = [0, 0.5, 0.999].map((r) => nextAskDelay({ kind: 'closing' }, { ...base, status: 304, tookMs: 1 }, () => r));
  assert.deepEqual(spread, [0, RECONNECT_SPREAD_MS / 2, Math.round(0.999 * RECONNECT_SPREAD_MS)]);
  for (const answer of [{ kind: 'none' } as const, { kind: 'busy' } as const]) {
    const delay = nextAskDelay(answer, { ...base, status: 304, tookMs: 5 }, () => 0.5);
    assert.equal(delay, 60_000, answer.kind);
  }
});

it('offers the full hold only to a hub that said it holds; otherwise a wait=0 probe answered at once', () => {
  assert.equal(waitToOffer({ kind: 'none' }, 25), 0);
  assert.equal(waitToOffer({ kind: 'busy' }, 25), 0);
  assert.equal(waitToOffer({ kind: 'closing' }, 25), 0);
  assert.equal(waitToOffer({ kind: 'held', seconds: 25 }, 25), 25);
});
