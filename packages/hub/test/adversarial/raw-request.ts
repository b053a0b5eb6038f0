// A client that sends a request head announcing a body and then holds the body back, the way an attacker
// probes whether a server reads (and parses) a body before it authenticates. A server that waits for the
// body never answers, and the guard timeout fails the test; one that decides on the head answers at once.
import { connect } from 'node:net';

export interface HeadAnswer {
  status: number;
  headers: Record<string, string>;
}

/**
 * Sends `method path` with the given headers (Content-Length as announced) and no body; resolves with the
 * answer's status line and headers. Rejects after guardMs without an answer.
 */
export function sendHeadOnly(base: string, method: string, path: string, headers: Record<string, string>, guardMs = 15_000): Promise<HeadAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    let answered = false;
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${guardMs} ms: the server waited for the body`));
    }, guardMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n\r\n');
      if (end === -1 || answered) return;
      answered = true;
      clearTimeout(guard);
      socket.destroy();
      const [statusLine, ...headerLines] = received.slice(0, end).split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers: parsed });
    });
    socket.on('error', (error) => {
      if (answered) return;
      clearTimeout(guard);
      reject(error);
    });
  });
}
