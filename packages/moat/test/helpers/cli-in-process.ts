// The `moat-waf` CLI run in this process (its run() with captured output): for tests of what a command
// writes, where a real process (helpers/cli-build.ts) would only add start-up time.
import { run } from '../../src/cli/run.js';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n'), input: process.stdin });
  return { code, out, err };
}
