// Reporting where worker threads are refused (Node's permission model without `--allow-worker`, a
// platform without them): the report pump runs on the serving thread, behind the same messages as the
// worker, so Upsync treats it as one. Reports then cost the serving thread their batching, encoding,
// gzip and POSTs (a few µs a record in full, far less counted: docs/performance.md), against losing
// every one. Its waits between drains never hold the process open, as an unref'd worker does not.
import { EventEmitter } from 'node:events';
import { ReportPump } from './report-pump.js';
import type { FromWorker, ReportWorkerData, ToWorker } from './worker-protocol.js';

/** What Upsync uses of a report worker. */
export interface ReportThread {
  postMessage(message: ToWorker): void;
  on(event: 'message', listener: (message: FromWorker) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'exit', listener: (code: number) => void): unknown;
  unref(): void;
  terminate(): Promise<number>;
}

/** Records per batch, and ring entries per drain, on the serving thread: each piece takes well under a millisecond. */
const IN_THREAD_BATCH = 250;
const IN_THREAD_DRAIN = 256;

export class InThreadReports extends EventEmitter implements ReportThread {
  private readonly pump: ReportPump;
  private exited = false;

  constructor(data: ReportWorkerData) {
    super();
    // Messages go out after the current task, as a worker's would: never into the middle of the caller.
    // Small batches and drains, so that each piece of this work between two requests stays short.
    this.pump = new ReportPump({ ...data, batchSize: Math.min(data.batchSize, IN_THREAD_BATCH) }, (message) => queueMicrotask(() => {
      if (!this.exited) this.emit('message', message);
    }),
      { keepsAlive: false, maxPerDrain: IN_THREAD_DRAIN });
    // The loop ends on close, before the last batches are sent: the pump lives on until terminate(), as a worker does.
    this.pump.run().catch((error: unknown) => {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
      this.exit(1);
    });
  }

  postMessage(message: ToWorker): void {
    setImmediate(() => {
      if (!this.exited) this.pump.handle(message);
    });
  }

  unref(): void {
    // Nothing holds the event loop: the pump's waits are unref'd.
  }

  /** Ends the pump as a worker's termination does; 'exit' follows with code 1. */
  terminate(): Promise<number> {
    this.pump.stop();
    this.exit(1);
    return Promise.resolve(1);
  }

  private exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    setImmediate(() => this.emit('exit', code));
  }
}
