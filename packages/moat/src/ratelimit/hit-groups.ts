// How one request's rate-limit hits become Redis script calls, and how their answers become one outcome.
//
// A script may only touch keys of one hash slot in a Redis Cluster (CROSSSLOT otherwise), and keys are
// `<prefix>{<client>}:<rule>`, so hits are grouped by client: the client IP's per-IP hits in one call, each
// keyed client (`k:<hash>`) in one of its own. The calls run in two rounds:
//   1. the per-IP calls, which also record this request's keyed counters in the IP's per-rule indexes
//      (the cap on keyed counters per IP lives in the IP's slot); a keyed hit the cap refuses is decided
//      there and never sent on;
//   2. only when no per-IP hit refused the request: the keyed calls, in parallel.
// So an IP already refused makes no keyed counters (a key rotator behind a per-IP limit cannot fill
// Redis), and a keyed counter exists only after its IP indexed it.
//
// Stopping at the first refusal, across calls: rules are ordered, and in process a block-mode refusal
// ends the counting (later rules do not count the request). Here the deciding refusal is the first one
// in rule order among the hits that were evaluated; the outcome ends there. Hits after it that another
// call already counted are taken back (`undo`), so a refused request is counted by no rule after the
// one that refused it. The differences from in process, both in the client's favour: a per-IP refusal
// decides even when a keyed rule before it would have refused too (its Retry-After is then the per-IP
// one), and keyed rules before it do not count the request.
import type { RateLimitHit } from '../engine/shared-rate-limit-store.js';

/** A keyed counter to record in its client IP's index for that rule. */
export interface IndexEntry {
  /** The index: a sorted set in the IP's slot. */
  key: string;
  /** The keyed counter's Redis key. */
  name: string;
  windowMs: number;
  /** The keyed hit's place among the request's hits. */
  hit: number;
}

/** One script call: hits of one client (one hash slot), in rule order, and the keyed counters to index. */
export interface ScriptCall {
  /** The client: the hash tag of every key in the call. */
  client: string;
  /** Indices into the request's hits, ascending. */
  hits: number[];
  index: IndexEntry[];
}

export interface CallPlan {
  perIp: ScriptCall[];
  keyed: ScriptCall[];
}

export function isPerIp(hit: RateLimitHit): boolean {
  return hit.by === undefined || hit.by === 'ip';
}

export function planCalls(hits: readonly RateLimitHit[], indexKeyOf: (rule: string, ip: string) => string, keyOf: (hit: RateLimitHit) => string): CallPlan {
  const perIp = new Map<string, ScriptCall>();
  const keyed = new Map<string, ScriptCall>();
  const callOf = (calls: Map<string, ScriptCall>, client: string): ScriptCall => {
    let call = calls.get(client);
    if (call === undefined) calls.set(client, call = { client, hits: [], index: [] });
    return call;
  };
  hits.forEach((hit, i) => {
    if (isPerIp(hit)) {
      callOf(perIp, hit.client).hits.push(i);
      return;
    }
    callOf(keyed, hit.client).hits.push(i);
    if (hit.ip !== undefined) callOf(perIp, hit.ip).index.push({ key: indexKeyOf(hit.rule, hit.ip), name: keyOf(hit), windowMs: hit.windowMs, hit: i });
  });
  return { perIp: [...perIp.values()], keyed: [...keyed.values()] };
}

/** Per hit: its wait, or NOT_EVALUATED when its call did not run or stopped before it. */
export const NOT_EVALUATED = -1;

/**
 * The outcome in rule order: waits up to and including the deciding refusal (hits not evaluated read
 * as 0: they were not counted and did not refuse), and the hits after it that were counted.
 */
export function decide(hits: readonly RateLimitHit[], waits: readonly number[]): { waits: number[]; counted: number[] } {
  let end = hits.length;
  for (let i = 0; i < hits.length; i++) {
    if (waits[i]! > 0 && hits[i]!.stop) {
      end = i + 1;
      break;
    }
  }
  const counted: number[] = [];
  for (let i = end; i < hits.length; i++) if (waits[i] === 0) counted.push(i);
  return { waits: waits.slice(0, end).map((w) => (w === NOT_EVALUATED ? 0 : w)), counted };
}
