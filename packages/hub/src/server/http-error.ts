/** An error whose message is safe to show the client, with the HTTP status to answer with. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly code = 'error') {
    super(message);
    this.name = 'HttpError';
  }
}
