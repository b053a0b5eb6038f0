// What the client says about itself to the hub (Wafris query parameters and upsync meta).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** The moat-waf package version, read once; both src/sync and dist/sync sit two levels below package.json. */
export const MOAT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** `client=moat` asks the hub for Moat-format files (Wafris clients get Wafris files). */
export const CLIENT_NAME = 'moat';

export interface ClientInfo {
  client: string;
  version: string;
  framework: string;
  hostname: string;
  processId: string;
}

export function clientInfo(framework: string | undefined, host: string | undefined): ClientInfo {
  return {
    client: CLIENT_NAME,
    version: MOAT_VERSION,
    framework: framework ?? 'node',
    hostname: host ?? hostname(),
    processId: String(process.pid),
  };
}
