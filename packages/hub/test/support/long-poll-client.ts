import { request, type Agent } from 'node:http';

export interface LongPollAnswer {
  status: number;
  /** The X-Moat-Wait header: seconds held, busy, closing, or null (a hub that does not long-poll). */
  wait: string | null;
  connection: string | null;
  /** The served file name (200), from Content-Disposition. */
  fileName: string | null;
  bytes: number;
}

/**
 * One downsync as a lightweight long-poll client sends it (a real socket; the body is read and counted,
 * not kept): `clientDb` is the version the client holds.
 */
export function longPoll(base: string, apiKey: string, o: { clientDb: string; wait?: string; agent?: Agent; category?: string }): Promise<LongPollAnswer> {
  const query = new URLSearchParams({ client: 'moat', client_db: o.clientDb, hostname: 'lp', process_id: '1', version: 'test' });
  if (o.wait !== undefined) query.set('wait', o.wait);
  const url = `${base}/v2/downsync/${o.category ?? 'custom_rules'}/${encodeURIComponent(apiKey)}?${query}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: o.agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        wait: header(res.headers['x-moat-wait']),
        connection: header(res.headers.connection),
        fileName: /filename=(\S+)/.exec(header(res.headers['content-disposition']) ?? '')?.[1] ?? null,
        bytes,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function header(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(',') : value;
}

export async function waitUntil(condition: () => boolean, what: string, guardMs = 30_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} (a guard, not a speed limit)`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
