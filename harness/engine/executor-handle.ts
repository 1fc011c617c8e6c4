/**
 * ExecutorHandle: the engine's view of one Executor, the same whether it runs on the main thread
 * (LocalExecutor, for small runs and tests) or on a client thread (ThreadExecutor, so sending
 * and parsing get a core of their own while the main thread aggregates and reports).
 */
import { Worker } from 'node:worker_threads';
import { Executor, type ExecutorInit, type ExecutorReport } from './executor.ts';
import type { ClosedStagePlan, PlannedRequest } from '../workload/plan.ts';

export interface ExecutorHandle {
  setEpoch(epochNs: bigint): void;
  scheduleOpen(batch: PlannedRequest[]): void;
  startClosed(stage: ClosedStagePlan, users: number[]): void;
  finish(): void;
  stop(): void;
  abortInFlight(): void;
  /** Resolves once nothing is queued or in flight (after finish() or stop()). */
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

export type ToThread =
  | { type: 'init'; init: ExecutorInit }
  | { type: 'epoch'; epochNs: bigint }
  | { type: 'open'; batch: PlannedRequest[] }
  | { type: 'closed'; stage: ClosedStagePlan; users: number[] }
  | { type: 'finish' }
  | { type: 'stop' }
  | { type: 'abort' }
  | { type: 'when-idle'; token: number }
  | { type: 'close' };

type FromThread =
  | { type: 'ready' }
  | { type: 'report'; report: ExecutorReport }
  | { type: 'idle'; token: number }
  | { type: 'closed' };

export class LocalExecutor implements ExecutorHandle {
  private readonly ex: Executor;
  private constructor(init: ExecutorInit, onReport: (r: ExecutorReport) => void) {
    this.ex = new Executor(init, onReport);
  }
  static async start(init: ExecutorInit, onReport: (r: ExecutorReport) => void): Promise<LocalExecutor> {
    const h = new LocalExecutor(init, onReport);
    await h.ex.warmup();
    return h;
  }
  setEpoch(epochNs: bigint): void {
    this.ex.setEpoch(epochNs);
  }
  scheduleOpen(batch: PlannedRequest[]): void {
    this.ex.scheduleOpen(batch);
  }
  startClosed(stage: ClosedStagePlan, users: number[]): void {
    this.ex.startClosed(stage, users);
  }
  finish(): void {
    this.ex.finish();
  }
  stop(): void {
    this.ex.stop();
  }
  abortInFlight(): void {
    this.ex.abortInFlight();
  }
  whenIdle(): Promise<void> {
    return this.ex.whenIdle();
  }
  close(): Promise<void> {
    return this.ex.close();
  }
}

export class ThreadExecutor implements ExecutorHandle {
  private readonly worker: Worker;
  private token = 0;
  private readonly idleWaiters = new Map<number, () => void>();
  private closedResolve: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(worker: Worker, onReport: (r: ExecutorReport) => void) {
    this.worker = worker;
    worker.on('message', (m: FromThread) => {
      if (m.type === 'report') onReport(m.report);
      else if (m.type === 'idle') {
        this.idleWaiters.get(m.token)?.();
        this.idleWaiters.delete(m.token);
      } else if (m.type === 'closed') this.closedResolve?.();
    });
    worker.on('error', (e) => {
      this.failure = e;
      for (const f of this.idleWaiters.values()) f();
      this.idleWaiters.clear();
      this.closedResolve?.();
    });
  }

  /** Start a client thread and initialise its executor. */
  static async start(init: ExecutorInit, onReport: (r: ExecutorReport) => void): Promise<ThreadExecutor> {
    const worker = new Worker(new URL('./client-thread-entry.mjs', import.meta.url));
    const handle = new ThreadExecutor(worker, onReport);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: FromThread) => {
        if (m.type === 'ready') {
          worker.off('message', onMsg);
          worker.off('error', reject);
          resolve();
        }
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
      worker.postMessage({ type: 'init', init } satisfies ToThread);
    });
    return handle;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  private post(m: ToThread): void {
    if (!this.failure) this.worker.postMessage(m);
  }
  setEpoch(epochNs: bigint): void {
    this.post({ type: 'epoch', epochNs });
  }
  scheduleOpen(batch: PlannedRequest[]): void {
    this.post({ type: 'open', batch });
  }
  startClosed(stage: ClosedStagePlan, users: number[]): void {
    this.post({ type: 'closed', stage, users });
  }
  finish(): void {
    this.post({ type: 'finish' });
  }
  stop(): void {
    this.post({ type: 'stop' });
  }
  abortInFlight(): void {
    this.post({ type: 'abort' });
  }
  whenIdle(): Promise<void> {
    if (this.failure) return Promise.resolve();
    const token = ++this.token;
    return new Promise((resolve) => {
      this.idleWaiters.set(token, resolve);
      this.post({ type: 'when-idle', token });
    });
  }
  async close(): Promise<void> {
    if (!this.failure) {
      await new Promise<void>((resolve) => {
        this.closedResolve = resolve;
        this.post({ type: 'close' });
      });
    }
    await this.worker.terminate();
  }
}
