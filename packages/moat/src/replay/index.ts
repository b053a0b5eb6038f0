// `moat-waf/replay`: judging recorded traffic with an engine, what `moat-waf check --ndjson --summary`
// does, for programs that preview rules against past requests (the hub's rule preview).
export { TrafficSummary, ReplayClock, Replay, replayedRequest, requestFieldsRead } from '../cli/commands/check-summary.js';
export type {
  ReplayRecord, ReplayExample, TrafficSummaryResult, TrafficSummaryState, TrafficSummaryOptions, TopList, TopValue,
  TopCounterState, DistinctCounterState, RuleCount, RecordField,
} from '../cli/commands/check-summary.js';
