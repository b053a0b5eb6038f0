// A TCP proxy in front of a hub that sees each upsync answer whole (headers and Content-Length bytes of
// body: the hub has committed and answered) before the client does, so a test can lose that answer the
// way a crash or a cut connection would, and check the batch is still stored exactly once.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** What becomes of a whole upsync answer: forwarded to the client, or withheld (the callback dealt with the client). */
export type AnswerFate = 'forward' | 'withhold';

export class UpsyncAnswerProxy {
  /** The body of every upsync answer the hub sent, forwarded or not. */
  readonly answers: string[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** `hubPort` may be changed later (a restarted hub); `onAnswer` gets each answer's index from 0. */
  constructor(public hubPort: number, onAnswer: (index: number, client: Socket, upstream: Socket) => AnswerFate) {
    this.server = createServer((client) => {
      const upstream = connect(this.hubPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      let upsyncAsked = false;
      let answer = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        if (chunk.toString('latin1', 0, 15) === 'POST /v2/upsync') upsyncAsked = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!upsyncAsked) {
          client.write(chunk);
          return;
        }
        answer = Buffer.concat([answer, chunk]);
        const headEnd = answer.indexOf('\r\n\r\n');
        const length = Number(/content-length: *(\d+)/i.exec(answer.toString('latin1', 0, Math.max(0, headEnd)))?.[1] ?? NaN);
        if (headEnd < 0 || !(answer.length >= headEnd + 4 + length)) return;
        const whole = answer;
        answer = Buffer.alloc(0);
        upsyncAsked = false;
        this.answers.push(whole.toString('utf8', headEnd + 4));
        if (onAnswer(this.answers.length - 1, client, upstream) === 'forward') client.write(whole);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    // Kept-alive connections would hold close() open until the hub's keep-alive timeout.
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
