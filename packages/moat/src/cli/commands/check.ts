import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Engine } from '../../engine/engine.js';
import { tryParseIp } from '../../ip/address.js';
import { KEY_HASH_RE } from '../../rules/key-ban.js';
import { EXIT_OK, EXIT_USAGE, UserError } from '../user-error.js';
import { Replay, replayedRequest, type ReplayRecord, type TrafficSummaryResult } from './check-summary.js';

export const checkHelp = `moat-waf check --rules <file> [--data <file>] --ip <ip> [--path <p>] [--method <m>] [--host <h>] [--ua <ua>] [--params <q>] [--json]
moat-waf check --rules <file> [--data <file>] --ndjson [--summary [--json]]  < requests.ndjson
  Evaluates one request, or one JSON request per input line ({"ip","path","method","host","userAgent","params"},
  optionally "ts" in Unix seconds, the "treatment" it got, a "count" of requests it stands for and the "keys" hashes a
  report carries), and prints each decision; paths and hosts are
  normalised as the middleware does. An IP that is not an IPv4 or IPv6 address is an error (exit 2; with
  --ndjson an error line in place of the decision, the other lines still judged, and exit 2 at the end).
  --summary prints one summary instead of a decision per line: requests per treatment, per rule, distinct
  IPs, and of the matched requests their recorded treatments, top IPs, paths and user agents (the hub's
  rule preview gives the same numbers). Rate limits are replayed on a clock set from each line's "ts".`;

const TREATMENTS = new Set(['Passed', 'Allowed', 'Blocked']);

/** A line's "keys", as hub reports carry them: `header:x-api-key=<hash> user=<hash>` (at most 1,024 characters). */
function validKeysText(keys: unknown): boolean {
  if (typeof keys !== 'string' || keys.length > 1024) return false;
  return keys === '' || keys.split(' ').every((pair) => {
    const eq = pair.lastIndexOf('=');
    return eq > 0 && KEY_HASH_RE.test(pair.slice(eq + 1));
  });
}
/** A line's "count" is judged request by request under rate limits: bounded so one line cannot run for hours. */
const MAX_COUNT = 1_000_000;

/** The same normalisation the middleware applies, so replayed traffic is judged as live traffic is. */
const normalise = replayedRequest;

export async function checkCommand(argv: string[], out: (s: string) => void, input: NodeJS.ReadableStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rules: { type: 'string' }, data: { type: 'string' }, ip: { type: 'string' }, path: { type: 'string' },
      method: { type: 'string' }, host: { type: 'string' }, ua: { type: 'string' }, params: { type: 'string' },
      json: { type: 'boolean' }, ndjson: { type: 'boolean' }, summary: { type: 'boolean' },
    },
  });
  if (!values.rules) throw new UserError(`usage: ${checkHelp.split('\n')[0]}`, 'MOAT_ERR_USAGE');
  if (values.summary && !values.ndjson) throw new UserError('--summary needs --ndjson', 'MOAT_ERR_USAGE');
  if (!values.ndjson && !values.ip) throw new UserError('--ip is required (or use --ndjson)', 'MOAT_ERR_USAGE');
  // The engine skips the IP checks for an address it cannot parse, so "Passed" would hide the typo.
  if (!values.ndjson && tryParseIp(values.ip!) === null) throw new UserError(`--ip ${JSON.stringify(values.ip)} is not an IPv4 or IPv6 address`, 'MOAT_ERR_USAGE');
  const replay = values.summary ? new Replay((now) => Engine.open({ rules: values.rules, data: values.data, now })) : undefined;
  const engine = replay?.engine ?? Engine.open({ rules: values.rules, data: values.data });
  if (values.ndjson) {
    let line = 0;
    let bad = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      let req: ReplayRecord;
      try {
        req = JSON.parse(text) as ReplayRecord;
        if (typeof req !== 'object' || req === null || typeof req.ip !== 'string') throw new UserError('needs an "ip" string', 'MOAT_ERR_USAGE');
        if (tryParseIp(req.ip) === null) throw new UserError(`"ip" ${JSON.stringify(req.ip)} is not an IPv4 or IPv6 address`, 'MOAT_ERR_USAGE');
        if (req.ts !== undefined && (typeof req.ts !== 'number' || !Number.isFinite(req.ts))) throw new UserError('"ts" must be Unix seconds', 'MOAT_ERR_USAGE');
        if (req.treatment !== undefined && !TREATMENTS.has(req.treatment)) throw new UserError('"treatment" must be Passed, Allowed or Blocked', 'MOAT_ERR_USAGE');
        if (req.count !== undefined && !(Number.isInteger(req.count) && req.count >= 1 && req.count <= MAX_COUNT)) {
          throw new UserError(`"count" must be a whole number from 1 to ${MAX_COUNT}`, 'MOAT_ERR_USAGE');
        }
        if (req.keys !== undefined && req.keys !== null && !validKeysText(req.keys)) {
          throw new UserError('"keys" must be "<key>=<32 lower-case hex digits>" pairs separated by spaces', 'MOAT_ERR_USAGE');
        }
      } catch (e) {
        // One bad line must not stop a replay: it gets an error line in its place, in order.
        bad++;
        out(JSON.stringify({ line, error: `invalid request: ${(e as Error).message}` }));
        continue;
      }
      if (replay) {
        replay.add(req);
      } else {
        out(JSON.stringify(engine.evaluate(normalise(req))));
      }
    }
    engine.close();
    if (replay) printSummary(replay.summary.result(), values.json === true, out);
    return bad > 0 ? EXIT_USAGE : EXIT_OK;
  }
  const decision = engine.evaluate(
    normalise({ ip: values.ip!, path: values.path, method: values.method, host: values.host, userAgent: values.ua, params: values.params }),
  );
  engine.close();
  if (values.json) out(JSON.stringify(decision));
  else {
    out(`${decision.treatment} (${decision.category}) rule ${decision.rule}${decision.ruleId ? ` [${decision.ruleId}]` : ''}`);
    for (const m of decision.monitored) out(`  monitor: would have matched ${m.category} ${m.rule} [${m.ruleId}]`);
  }
  return EXIT_OK;
}

function printSummary(s: TrafficSummaryResult, json: boolean, out: (line: string) => void): void {
  if (json) {
    out(JSON.stringify(s));
    return;
  }
  const top = (title: string, list: TrafficSummaryResult['matched']['topIps']) => {
    out(`top ${title}${list.exact ? '' : ` (approximate: counts may be low by up to ${list.maxError})`}:`);
    for (const e of list.entries) out(`  ${e.count}\t${e.value}`);
  };
  out(`requests: ${s.requests} from ${s.distinctIpsAtLeast ? 'at least ' : ''}${s.distinctIps} IPs`);
  out(`treatments: Passed ${s.treatments.Passed}, Allowed ${s.treatments.Allowed}, Blocked ${s.treatments.Blocked}`);
  for (const r of s.rules) out(`rule ${r.ruleId}: decided ${r.decided}${r.monitored > 0 ? `, matched in monitor mode ${r.monitored}` : ''}`);
  const m = s.matched;
  out(`matched: ${m.requests} from ${m.distinctIpsAtLeast ? 'at least ' : ''}${m.distinctIps} IPs`
    + ` (recorded as Passed ${m.recorded.Passed}, Allowed ${m.recorded.Allowed}, Blocked ${m.recorded.Blocked}, unknown ${m.recorded.unknown})`);
  top('IPs', m.topIps);
  top('paths', m.topPaths);
  top('user agents', m.topUserAgents);
}
