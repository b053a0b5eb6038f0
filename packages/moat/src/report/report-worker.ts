// Worker-thread entry of reporting: runs the report pump (report-pump.ts) on this thread. A crash here
// costs the records it held, never a request: the serving thread counts them and starts a new worker.
import { parentPort, workerData } from 'node:worker_threads';
import { ReportPump } from './report-pump.js';
import type { ReportWorkerData, ToWorker } from './worker-protocol.js';

const port = parentPort!;
const pump = new ReportPump(workerData as ReportWorkerData, (message) => port.postMessage(message));
port.on('message', (message: ToWorker) => pump.handle(message));
void pump.run();
