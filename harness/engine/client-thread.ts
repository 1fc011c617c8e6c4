/**
 * A client thread: runs one Executor on a worker thread and speaks to the engine by messages
 * (see ExecutorHandle in executor-handle.ts). Started through client-thread-entry.mjs, which
 * registers the TypeScript loader first.
 */
import { parentPort } from 'node:worker_threads';
import { Executor, type ExecutorInit } from './executor.ts';
import type { ToThread } from './executor-handle.ts';

const port = parentPort!;
let executor: Executor | undefined;

port.on('message', (msg: ToThread) => {
  switch (msg.type) {
    case 'init':
      executor = new Executor(msg.init as ExecutorInit, (report) => port.postMessage({ type: 'report', report }));
      void executor.warmup().then(() => port.postMessage({ type: 'ready' }));
      return;
    case 'epoch':
      executor!.setEpoch(msg.epochNs);
      return;
    case 'open':
      executor!.scheduleOpen(msg.batch);
      return;
    case 'closed':
      executor!.startClosed(msg.stage, msg.users);
      return;
    case 'finish':
      executor!.finish();
      return;
    case 'stop':
      executor!.stop();
      return;
    case 'abort':
      executor!.abortInFlight();
      return;
    case 'when-idle':
      void executor!.whenIdle().then(() => port.postMessage({ type: 'idle', token: msg.token }));
      return;
    case 'close':
      void executor!.close().then(() => {
        port.postMessage({ type: 'closed' });
        port.close();
      });
      return;
  }
});
