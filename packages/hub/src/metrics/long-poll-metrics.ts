import type { ChangeWaitersStats } from '../distribution/change-waiters.js';
import type { ChangeFeedStats } from '../store/postgres/change-feed.js';
import { counterText as counter, gaugeText } from './prometheus-text.js';

/** Held downsyncs (long-poll) and, with PostgreSQL, the feed that carries rules changes between hubs. */
export function longPollText(waiters: ChangeWaitersStats, feed: ChangeFeedStats | null): string {
  const parts = [
    gaugeText('moat_hub_downsync_waiting', 'Downsync requests held open now, waiting for a rules change (long-poll).', [{ labels: {}, value: waiters.waiting }]),
    counter('moat_hub_downsync_waits_total', 'Held downsync requests by how they ended (woken, timeout, disconnected, released at shutdown).', [
      { labels: { outcome: 'woken' }, value: waiters.woken },
      { labels: { outcome: 'timeout' }, value: waiters.timedOut },
      { labels: { outcome: 'disconnected' }, value: waiters.disconnected },
      { labels: { outcome: 'released' }, value: waiters.released },
    ]),
    counter('moat_hub_downsync_waits_refused_total', 'Downsync requests not held because a cap was reached (answered at once, told to poll).', [
      { labels: { cap: 'hub' }, value: waiters.refusedHub },
      { labels: { cap: 'api_key' }, value: waiters.refusedKey },
    ]),
  ];
  if (feed !== null) {
    parts.push(
      gaugeText('moat_hub_change_feed_connected', '1 while the PostgreSQL LISTEN connection for rules changes is up.', [{ labels: {}, value: feed.connected ? 1 : 0 }]),
      counter('moat_hub_change_feed_messages_total', 'Rules-change notifications sent to and received from other hubs, and sends that failed.', [
        { labels: { direction: 'sent' }, value: feed.published },
        { labels: { direction: 'received' }, value: feed.received },
        { labels: { direction: 'send_failed' }, value: feed.publishFailures },
      ]),
    );
  }
  return parts.join('\n');
}
