/**
 * Engine: drives a Plan through executors and folds what comes back into an Aggregator.
 *
 * Open-loop requests are handed to the executors in slices about a second ahead of their
 * intended time (round-robin, so each client thread gets an even share), and each
 * executor fires them on their absolute deadlines. Closed-loop users are spread over the
 * executors the same way. After the last stage, in-flight requests get `load.drainMs` to finish
 * and are then aborted. On `signal` (Ctrl-C) sending stops at once, in-flight requests get the
 * same grace period, and the result is marked interrupted. The engine emits progress snapshots
 * and records through callbacks; it never prints.
 */
import os from 'node:os';
import { Aggregator } from '../metrics/aggregator.ts';
import { rateAt } from './arrival-schedule.ts';
import { LocalExecutor, ThreadExecutor, type ExecutorHandle } from './executor-handle.ts';
import type { ExecutorInit, ExecutorReport } from './executor.ts';
import type { RequestTemplate } from './request-template.ts';
import type { Plan, PlannedRequest } from '../workload/plan.ts';
import type { RequestRecord } from '../metrics/request-record.ts';
import type { Scenario, Stage } from '../scenario/scenario-types.ts';
import { meanLength } from '../workload/length-sampler.ts';

export interface ProgressSnapshot {
  elapsedMs: number;
  totalMs: number;
  /** Planned open-loop rate now (req/s), or null during closed-loop stages. */
  targetRps: number | null;
  /** Requests sent per second over the last interval. */
  achievedRps: number;
  inFlight: number;
  ok: number;
  failed: number;
  dropped: number;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  /** Schedule lag p99 so far (ms). */
  sendLagP99Ms: number | null;
  stage: number;
  draining: boolean;
}

export interface EngineOptions {
  scenario: Scenario;
  plan: Plan;
  template: RequestTemplate;
  /** Client threads; 0 runs the executor on the calling thread. */
  threads: number;
  /** Stop sending (Ctrl-C). In-flight requests get load.drainMs, then are aborted. */
  signal?: AbortSignal;
  /** Abort in-flight requests at once (a second Ctrl-C). */
  hardSignal?: AbortSignal;
  onRecord?: (r: RequestRecord) => void;
  onProgress?: (p: ProgressSnapshot) => void;
  /**
   * Called on each progress tick while requests are being sent (not while draining), with the
   * live aggregate and the run-clock time (ms): abort_on_fail thresholds are evaluated here, and
   * may abort `signal` to stop the run.
   */
  onTick?: (aggregator: Aggregator, elapsedMs: number) => void;
  /**
   * Wall-clock time (Unix ms) of t = 0 of the run clock (`--start-at`: every shard's common
   * start). Default: a moment after the client threads are up. A time in the past makes the
   * overdue requests go out at once (late, their send lag recorded).
   */
  startAtMs?: number;
  /** Called once the run epoch (t = 0 of the run clock, a process.hrtime.bigint() value) is set. */
  onEpoch?: (epochNs: bigint) => void;
  progressIntervalMs?: number;
}

export interface EngineResult {
  aggregator: Aggregator;
  /** Wall-clock time of the run epoch (t = 0 on the run clock). */
  startedAt: Date;
  epochNs: bigint;
  /** From the epoch to the last request's end (drain included). */
  wallMs: number;
  interrupted: boolean;
  /** Run-clock time sending stopped when interrupted (undefined when the stages ran out). */
  stoppedAtMs: number | undefined;
  /** Requests aborted because the drain period ran out (or after Ctrl-C's grace period). */
  abortedAtEnd: number;
  threads: number;
  /** Busiest client thread's event-loop utilisation over the run (0..1). */
  eventLoopUtilization: number;
  /** CPU time of the whole harness process over the run, in % of one core. */
  cpuPercent: number;
}

const LOOKAHEAD_MS = 1000;
const DISPATCH_EVERY_MS = 200;
const START_DELAY_MS = 50;

/** Expected chunk rate one client thread handles comfortably (see the client-accuracy benchmark). */
const CHUNKS_PER_S_PER_THREAD = 12_000;
/** Chunks per second one closed-loop user is assumed to receive (a stream at ~30 tokens/s). */
const CHUNKS_PER_S_PER_USER = 30;

/**
 * Client threads for `client.threads: auto`: the work of a client thread is mostly reading
 * chunks, so the estimate is the peak chunk rate (open loop: rate x mean output tokens; closed
 * loop: users x ~30 tokens/s) over what one thread handles comfortably, within the cores.
 */
export function autoThreads(scenario: Scenario): number {
  const meanOut = meanLength(scenario.workload.outputTokens);
  let peakChunks = 0;
  const chunksOf = (s: Stage): number => (s.kind === 'open' ? s.rateRps * meanOut : s.users * CHUNKS_PER_S_PER_USER);
  for (const s of scenario.load.stages) peakChunks = Math.max(peakChunks, chunksOf(s));
  // A mix's streams with loads of their own run side by side: at most the sum of their peaks on top.
  let streams = 0;
  for (const m of scenario.mix ?? []) streams += Math.max(0, ...(m.stages ?? []).map(chunksOf));
  peakChunks = Math.max(peakChunks, streams);
  const want = Math.max(1, Math.ceil(peakChunks / CHUNKS_PER_S_PER_THREAD));
  return Math.min(want, Math.max(1, os.availableParallelism()));
}

export async function runEngine(opts: EngineOptions): Promise<EngineResult> {
  const { scenario, plan, template } = opts;
  const agg = new Aggregator(scenario.load.stages.length, scenario.slo, plan.targetsPerSecond);
  const n = Math.max(1, opts.threads);
  let inFlight = new Array<number>(n).fill(0);
  const elu = new Array<number>(n).fill(0);
  let peakSinceTick = 0;
  const onReport = (i: number) => (rep: ExecutorReport) => {
    for (const r of rep.records) {
      agg.add(r);
      opts.onRecord?.(r);
    }
    for (const d of rep.drops) agg.addDrop(d.stage, d.phase, d.intendedMs, d.model, d.tenant);
    inFlight[i] = rep.inFlight;
    elu[i] = rep.eventLoopUtilization;
    const total = inFlight.reduce((a, b) => a + b, 0) - rep.inFlight + rep.peakInFlight;
    if (total > peakSinceTick) peakSinceTick = total;
  };

  const cap = scenario.load.maxInFlight;
  const inits: ExecutorInit[] = Array.from({ length: n }, (_, i) => ({
    template,
    maxInFlight: cap === undefined ? undefined : Math.floor(cap / n) + (i < cap % n ? 1 : 0),
    onMaxInFlight: scenario.load.onMaxInFlight,
    // The lengths and prefix settings closed-loop users draw from; never the trace's rows (the
    // plan already holds them), which would be copied into every client thread.
    workload: { ...scenario.workload, trace: undefined },
    load: { warmupMs: scenario.load.warmupMs, cooldownMs: scenario.load.cooldownMs },
    totalMs: plan.totalMs,
    model: scenario.target.model,
    ...(scenario.mix ? { mix: scenario.mix.map((m) => ({ model: m.model, tenant: m.tenant })) } : {}),
    // The later turns of open-loop conversations (and a mix stream's closed-loop requests) are recorded in the stage their time falls in.
    stageStartsMs: plan.stageStartsMs,
    warmupUrl: scenario.target.url === undefined ? undefined : `${scenario.target.url.replace(/\/$/, '')}/models`,
    // Closed-loop ids start above every open-loop id (a shard's open ids are a subset of the plan's).
    idBase: plan.open.reduce((m, p) => Math.max(m, p.id + 1, ...(p.traceTurns?.later.map((q) => q.id + 1) ?? [])), plan.open.length),
    // Open-loop conversations have ids 1 .. (the unsplit plan's open-loop ids + 1): closed-loop ones start above.
    conversationBase: plan.open.some((p) => p.conversation !== undefined) ? plan.open.reduce((m, p) => Math.max(m, p.id + 1), plan.open.length) : 0,
    threadIndex: i,
    threadCount: n,
  }));
  const handles: ExecutorHandle[] =
    opts.threads === 0
      ? [await LocalExecutor.start(inits[0]!, onReport(0))]
      : await Promise.all(inits.map((init, i) => ThreadExecutor.start(init, onReport(i))));
  // The epoch is set a little in the future, once the threads are up, so the first sends are not late.
  const epochNs =
    opts.startAtMs === undefined
      ? process.hrtime.bigint() + BigInt(START_DELAY_MS * 1e6)
      : process.hrtime.bigint() + BigInt(Math.round((opts.startAtMs - Date.now()) * 1e6));
  for (const h of handles) h.setEpoch(epochNs);
  opts.onEpoch?.(epochNs);
  const nowMs = () => Number(process.hrtime.bigint() - epochNs) / 1e6;
  const cpu0 = process.cpuUsage();
  const startedAt = opts.startAtMs === undefined ? new Date(Date.now() + Math.max(0, -nowMs())) : new Date(opts.startAtMs);

  let interrupted = false;
  let draining = false;
  let next = 0;
  const dispatch = () => {
    const horizon = nowMs() + LOOKAHEAD_MS;
    const slices: PlannedRequest[][] = handles.map(() => []);
    while (next < plan.open.length && plan.open[next]!.intendedMs < horizon) {
      // Round-robin by position (= by id in an unsplit plan; a shard's ids are spaced out).
      slices[next % n]!.push(plan.open[next++]!);
    }
    slices.forEach((s, i) => s.length && handles[i]!.scheduleOpen(s));
  };
  for (const c of plan.closed) {
    const per: number[][] = handles.map(() => []);
    // A shard runs its share of the users (c.users); each keeps its index.
    (c.users ?? c.userStartsMs.map((_, u) => u)).forEach((u, k) => per[k % n]!.push(u));
    per.forEach((users, i) => users.length && handles[i]!.startClosed(c, users));
  }

  const interval = opts.progressIntervalMs ?? 1000;
  let lastSent = 0;
  let lastTick = 0;
  const progress = () => {
    const t = nowMs();
    const current = inFlight.reduce((a, b) => a + b, 0);
    agg.series.sampleInFlight(t, Math.max(current, peakSinceTick));
    peakSinceTick = current;
    const sent = agg.seen + current;
    const dt = (t - lastTick) / 1000;
    const achieved = dt > 0 ? (sent - lastSent) / dt : 0;
    lastSent = sent;
    lastTick = t;
    const stage = stageAt(plan, t);
    const st = scenario.load.stages[stage];
    if (!draining) opts.onTick?.(agg, t);
    opts.onProgress?.({
      elapsedMs: Math.max(0, t),
      totalMs: plan.totalMs,
      targetRps: st?.kind === 'open' ? rateAt(scenario.load.stages, t) : null,
      achievedRps: achieved,
      inFlight: current,
      ok: agg.seenOk,
      failed: agg.seenFailed,
      dropped: agg.run.dropped,
      ttftP50Ms: agg.run.h.ttft.percentile(50),
      ttftP95Ms: agg.run.h.ttft.percentile(95),
      sendLagP99Ms: agg.run.h.send_lag.percentile(99),
      stage,
      draining,
    });
  };

  dispatch();
  const dispatcher = setInterval(dispatch, DISPATCH_EVERY_MS);
  const ticker = setInterval(progress, interval);
  const stopped = new Promise<void>((resolve) => {
    if (opts.signal?.aborted) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  // Waits that lose a Promise.race must not keep the process alive: every one is cleared at the end.
  const sleeps = new Set<NodeJS.Timeout>();
  const sleepUntilRunMs = (t: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(() => {
        sleeps.delete(timer);
        r();
      }, Math.max(0, t - nowMs()));
      sleeps.add(timer);
    });

  try {
    // Phase 1: until every open-loop request is handed over and the stages are over.
    const allIdle = () => Promise.all(handles.map((h) => h.whenIdle())).then(() => undefined);
    const scheduleDone = (async () => {
      while (next < plan.open.length) await sleepUntilRunMs(plan.open[next]!.intendedMs - LOOKAHEAD_MS / 2);
      dispatch();
      for (const h of handles) h.finish();
    })();
    const outcome = await Promise.race([
      scheduleDone.then(async () => {
        await Promise.race([allIdle(), sleepUntilRunMs(plan.totalMs)]);
        return 'stages-over' as const;
      }),
      stopped.then(() => 'stopped' as const),
    ]);
    clearInterval(dispatcher);
    let stoppedAtMs: number | undefined;
    if (outcome === 'stopped') {
      interrupted = true;
      stoppedAtMs = nowMs();
      for (const h of handles) h.stop();
    }
    // Phase 2: drain. In-flight requests get drainMs, then are aborted.
    draining = true;
    const drainUntil = (interrupted ? nowMs() : Math.max(nowMs(), plan.totalMs)) + scenario.load.drainMs;
    const hardStop = new Promise<boolean>((resolve) => {
      if (opts.hardSignal?.aborted) resolve(false);
      opts.hardSignal?.addEventListener('abort', () => resolve(false), { once: true });
    });
    const drained = await Promise.race([
      allIdle().then(() => true),
      sleepUntilRunMs(drainUntil).then(() => false),
      hardStop,
      interrupted ? hardStop : stopped.then(() => false),
    ]);
    let abortedAtEnd = 0;
    if (!drained) {
      if (opts.signal?.aborted) interrupted = true;
      for (const h of handles) h.stop();
      const before = agg.seen;
      const inFlightNow = inFlight.reduce((a, b) => a + b, 0);
      for (const h of handles) h.abortInFlight();
      await allIdle();
      abortedAtEnd = Math.min(inFlightNow, agg.seen - before);
    }
    const wallMs = Math.max(nowMs(), 0);
    progress();
    const cpu = process.cpuUsage(cpu0);
    return {
      aggregator: agg,
      startedAt,
      epochNs,
      wallMs,
      interrupted,
      stoppedAtMs,
      abortedAtEnd,
      threads: opts.threads,
      eventLoopUtilization: Math.max(...elu),
      cpuPercent: wallMs > 0 ? ((cpu.user + cpu.system) / 1000 / wallMs) * 100 : 0,
    };
  } finally {
    clearInterval(dispatcher);
    clearInterval(ticker);
    for (const t of sleeps) clearTimeout(t);
    await Promise.all(handles.map((h) => h.close()));
    inFlight = [];
  }
}

function stageAt(plan: Plan, t: number): number {
  let s = 0;
  for (let i = 0; i < plan.stageStartsMs.length; i++) if (t >= plan.stageStartsMs[i]!) s = i;
  return s;
}

