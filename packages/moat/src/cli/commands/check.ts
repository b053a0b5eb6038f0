import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Engine } from '../../engine/engine.js';
import type { MoatRequest } from '../../engine/decision.js';
import { normalizePath } from '../../http/request-path.js';
import { normalizeHost } from '../../http/request-host.js';
import { tryParseIp } from '../../ip/address.js';
import { EXIT_OK, EXIT_USAGE, UserError } from '../user-error.js';

export const checkHelp = `moat-waf check --rules <file> [--data <file>] --ip <ip> [--path <p>] [--method <m>] [--host <h>] [--ua <ua>] [--params <q>] [--json]
moat-waf check --rules <file> [--data <file>] --ndjson   < requests.ndjson
  Evaluates one request, or one JSON request per input line ({"ip","path","method","host","userAgent","params"}),
  and prints each decision; paths and hosts are normalised as the middleware does. An IP that is not an
  IPv4 or IPv6 address is an error (exit 2; with --ndjson an error line in place of the decision, the other
  lines still judged, and exit 2 at the end).`;

/** The same normalisation the middleware applies, so replayed traffic is judged as live traffic is. */
function normalise(r: MoatRequest): MoatRequest {
  return {
    ip: String(r.ip ?? ''),
    method: r.method === undefined ? undefined : String(r.method),
    host: r.host === undefined ? undefined : normalizeHost(String(r.host)),
    path: r.path === undefined ? undefined : normalizePath(String(r.path)),
    params: r.params === undefined ? undefined : String(r.params),
    userAgent: r.userAgent === undefined ? undefined : String(r.userAgent),
  };
}

export async function checkCommand(argv: string[], out: (s: string) => void, input: NodeJS.ReadableStream): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rules: { type: 'string' }, data: { type: 'string' }, ip: { type: 'string' }, path: { type: 'string' },
      method: { type: 'string' }, host: { type: 'string' }, ua: { type: 'string' }, params: { type: 'string' },
      json: { type: 'boolean' }, ndjson: { type: 'boolean' },
    },
  });
  if (!values.rules) throw new UserError(`usage: ${checkHelp.split('\n')[0]}`, EXIT_USAGE);
  if (!values.ndjson && !values.ip) throw new UserError('--ip is required (or use --ndjson)', EXIT_USAGE);
  // The engine skips the IP checks for an address it cannot parse, so "Passed" would hide the typo.
  if (!values.ndjson && tryParseIp(values.ip!) === null) throw new UserError(`--ip ${JSON.stringify(values.ip)} is not an IPv4 or IPv6 address`, EXIT_USAGE);
  const engine = Engine.open({ rules: values.rules, data: values.data });
  if (values.ndjson) {
    let line = 0;
    let bad = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      let req: MoatRequest;
      try {
        req = JSON.parse(text) as MoatRequest;
        if (typeof req !== 'object' || req === null || typeof req.ip !== 'string') throw new Error('needs an "ip" string');
        if (tryParseIp(req.ip) === null) throw new Error(`"ip" ${JSON.stringify(req.ip)} is not an IPv4 or IPv6 address`);
      } catch (e) {
        // One bad line must not stop a replay: it gets an error line in its place, in order.
        bad++;
        out(JSON.stringify({ line, error: `invalid request: ${(e as Error).message}` }));
        continue;
      }
      out(JSON.stringify(engine.evaluate(normalise(req))));
    }
    engine.close();
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
